"""A fix for a Rasa 3.6 speed fault, applied in every process that loads a Tongban model.

Rasa checks each action-server response with `jsonschema.validate`, which first checks Rasa's own
response schema against the JSON Schema 2020-12 meta-schema. With jsonschema 4.17 that costs
about 50 ms on every custom action call, more than the rest of a turn together. Here the schema
is checked once and its validator reused: responses are validated exactly as before.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from jsonschema import ValidationError
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL


@cache
def _response_validator() -> Any:
    schema = RemoteAction.action_response_format_spec()
    validator_class = validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


def _validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
    try:
        _response_validator().validate(result)
        return True
    except ValidationError as e:
        e.message += (
            ". Failed to validate Action server response from API, make sure your response "
            f"from the Action endpoint is valid. For more information about the format visit "
            f"{DOCS_BASE_URL}/custom-actions"
        )
        raise


def _retrying_request(original: Any) -> Any:
    """Rasa's action call with one retry when the request could not even be written ("Cannot
    write to closing transport", seen under load in the cluster tests): the action server never
    got it, so sending it again cannot run an action twice. Any other error is raised as before."""
    import asyncio

    import aiohttp

    async def request(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return await original(self, *args, **kwargs)
        except aiohttp.ClientOSError as exc:
            if "closing transport" not in str(exc):
                raise
            await asyncio.sleep(0.05)
            return await original(self, *args, **kwargs)

    request._tongban_retry = True  # type: ignore[attr-defined]
    return request


def apply() -> None:
    from rasa.utils.endpoints import EndpointConfig

    RemoteAction._validate_action_result = _validate_action_result
    if not getattr(EndpointConfig.request, "_tongban_retry", False):
        EndpointConfig.request = _retrying_request(EndpointConfig.request)
