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


def apply() -> None:
    RemoteAction._validate_action_result = _validate_action_result
