"""Fixes for Rasa 3.6 faults, applied by `apply()` in every process that loads a Tongban model.

- Speed: Rasa checks each action-server response with `jsonschema.validate`, which first checks
  Rasa's own response schema against the JSON Schema 2020-12 meta-schema. With jsonschema 4.17
  that costs about 50 ms on every custom action call, more than the rest of a turn together.
  Here the schema is checked once and its validator reused: responses are validated as before.
- A request that could not even be written to the action server is sent once more.
- When the action server cannot be reached, times out, or answers 5xx or 401, Rasa logs the
  error, drops the action's events and the turn is silent (the channels then say "I did not
  understand", which is wrong). Here the action's result becomes one apology instead
  (ACTIONS_UNAVAILABLE_REPLY); any other failure is raised exactly as before.
"""

from __future__ import annotations

import asyncio
import logging
from functools import cache
from typing import Any

import aiohttp
from jsonschema import ValidationError
from jsonschema.validators import validator_for
from rasa.core.actions.action import ActionExecutionRejection, RemoteAction
from rasa.shared.constants import DOCS_BASE_URL
from rasa.shared.core.events import BotUttered, Event, UserUttered
from rasa.shared.exceptions import RasaException

from tongban.channels.server import ACTIONS_UNAVAILABLE_REPLY
from tongban.settings import settings

log = logging.getLogger(__name__)


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
    """Rasa's endpoint call, bounded and retried once.

    - Bounded: Rasa gives a custom action five minutes (DEFAULT_REQUEST_TIMEOUT), far beyond
      nginx's 75 s, the WeChat deadline and the conversation lock's lifetime; a hung action
      server would hold the conversation that long. The wait is capped at the settings'
      `action_timeout` (TONGBAN_ACTION_TIMEOUT, 30 s), after which the citizen gets the apology.
    - Retried once when the request could not even be written ("Cannot write to closing
      transport", seen under load in the cluster tests): the action server never got it, so
      sending it again cannot run an action twice. Any other error is raised as before."""

    async def request(self: Any, *args: Any, **kwargs: Any) -> Any:
        limit = settings().action_timeout
        timeout = kwargs.get("timeout")
        if isinstance(timeout, int | float) and timeout > limit:
            kwargs["timeout"] = limit
        try:
            return await original(self, *args, **kwargs)
        except aiohttp.ClientOSError as exc:
            if "closing transport" not in str(exc):
                raise
            await asyncio.sleep(0.05)
            return await original(self, *args, **kwargs)

    request._tongban_retry = True  # type: ignore[attr-defined]
    return request


def unavailable_reason(error: BaseException) -> str | None:
    """Why a custom action did not run, when the action server is at fault: "unreachable",
    "timeout" or "HTTP <status>" (5xx, 401); None for any other error.

    `RemoteAction.run` turns the HTTP client's errors into a bare RasaException, keeping the
    original as its cause (HTTP status >= 400) or context (connection errors); a timeout of the
    whole request is not caught there and arrives as TimeoutError."""
    if isinstance(error, ActionExecutionRejection):  # the action declined: Rasa's own path
        return None
    if isinstance(error, TimeoutError):  # asyncio.TimeoutError is TimeoutError on 3.11
        return "timeout"
    if not isinstance(error, RasaException):
        return None
    cause = error.__cause__ or error.__context__
    if isinstance(cause, aiohttp.ServerTimeoutError):
        return "timeout"
    if isinstance(cause, aiohttp.ClientConnectionError):
        return "unreachable"
    status = getattr(cause, "status", None) if isinstance(cause, aiohttp.ClientError) else None
    if isinstance(status, int) and (status == 401 or status >= 500):
        return f"HTTP {status}"
    return None


def _apologised_this_turn(tracker: Any) -> bool:
    """A form's validation and its question are two actions of one turn: one apology is enough."""
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            return False
        if isinstance(event, BotUttered) and event.text == ACTIONS_UNAVAILABLE_REPLY:
            return True
    return False


def _apologising_run(original: Any) -> Any:
    """`RemoteAction.run` whose result, when the action server is unavailable, is one apology
    (a BotUttered: Rasa records it and sends it through the channel like any bot message)."""

    async def run(
        self: RemoteAction, output_channel: Any, nlg: Any, tracker: Any, domain: Any
    ) -> list[Event]:
        try:
            return await original(self, output_channel, nlg, tracker, domain)
        except Exception as error:
            reason = unavailable_reason(error)
            if reason is None:
                raise
        # The action's name and the reason only: never the sender or the message.
        log.error("custom action %s not run, action server unavailable: %s", self.name(), reason)
        if _apologised_this_turn(tracker):
            return []
        return [BotUttered(ACTIONS_UNAVAILABLE_REPLY)]

    run._tongban_apology = True  # type: ignore[attr-defined]
    return run


def apply() -> None:
    from rasa.utils.endpoints import EndpointConfig

    RemoteAction._validate_action_result = _validate_action_result
    if not getattr(EndpointConfig.request, "_tongban_retry", False):
        EndpointConfig.request = _retrying_request(EndpointConfig.request)
    if not getattr(RemoteAction.run, "_tongban_apology", False):
        RemoteAction.run = _apologising_run(RemoteAction.run)
