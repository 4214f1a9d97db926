"""The fixes of Rasa's custom-action calls (tongban/nlu/rasa_fixes.py), without servers: the
response check (same verdicts, schema checked once) and the apology when the action server is
unavailable (every other failure raised as before)."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from typing import Any

import aiohttp
import pytest
from jsonschema import ValidationError
from rasa.core.actions.action import ActionExecutionRejection, RemoteAction
from rasa.core.channels.channel import CollectingOutputChannel
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import BotUttered, Event, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.exceptions import RasaException
from rasa.utils.endpoints import ClientResponseError, EndpointConfig

import tongban.nlu.tokenizer  # noqa: F401  (loading the pipeline applies the fix)
from tongban.channels.server import ACTIONS_UNAVAILABLE_REPLY, NO_ANSWER_REPLY, UNAVAILABLE_REPLY
from tongban.nlu import rasa_fixes

GOOD = {
    "events": [{"event": "slot", "name": "item", "value": "marriage_registration"}],
    "responses": [
        {"text": "可以办理。", "buttons": [{"title": "要带什么", "payload": "要带什么"}]}
    ],
}


def test_loading_the_pipeline_applies_the_fix():
    assert RemoteAction._validate_action_result is rasa_fixes._validate_action_result


def test_a_valid_response_passes():
    assert RemoteAction("action_answer", None)._validate_action_result(GOOD)


@pytest.mark.parametrize(
    "bad",
    [
        {"events": "not a list"},
        {"events": [{"event": "no_such_event"}]},
        {"responses": ["plain text instead of an object"]},
    ],
)
def test_a_malformed_response_is_still_refused_with_rasas_hint(bad):
    with pytest.raises(ValidationError, match="Failed to validate Action server response"):
        RemoteAction("action_answer", None)._validate_action_result(bad)


# ---------------------------------------------------------------- action server unavailable --


class _Endpoint(EndpointConfig):
    """An action endpoint whose request fails with `error` (or answers `answer`): no server."""

    def __init__(self, error: BaseException | None = None, answer: Any = None) -> None:
        super().__init__("http://127.0.0.1:9/webhook", enable_selective_domain=True)
        self.error, self.answer, self.calls = error, answer, 0

    async def request(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        if self.error is not None:
            raise self.error
        return self.answer


def _run(endpoint: EndpointConfig | None, *events: Event) -> list[Event]:
    tracker = DialogueStateTracker.from_events(
        "citizen-0001", [UserUttered("异地就医备案怎么办"), *events]
    )
    action = RemoteAction("action_answer", endpoint)
    return asyncio.run(action.run(CollectingOutputChannel(), None, tracker, Domain.empty()))


def _refused_port() -> int:
    with socket.socket() as probe:  # a loopback port nobody listens on once closed
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _apology(events: list[Event]) -> bool:
    return (
        len(events) == 1
        and isinstance(events[0], BotUttered)
        and events[0].text == ACTIONS_UNAVAILABLE_REPLY
    )


def test_the_apology_is_a_polite_chinese_text_naming_12345():
    assert "稍后再试" in ACTIONS_UNAVAILABLE_REPLY and "12345" in ACTIONS_UNAVAILABLE_REPLY
    assert ACTIONS_UNAVAILABLE_REPLY not in (NO_ANSWER_REPLY, UNAVAILABLE_REPLY)


def test_loading_the_pipeline_wraps_remote_actions_once():
    assert getattr(RemoteAction.run, "_tongban_apology", False)
    wrapped = RemoteAction.run
    rasa_fixes.apply()
    assert RemoteAction.run is wrapped


def test_a_refused_connection_to_a_real_closed_port_gives_one_apology(caplog):
    endpoint = EndpointConfig(f"http://127.0.0.1:{_refused_port()}/webhook")
    with caplog.at_level(logging.ERROR, logger="tongban.nlu.rasa_fixes"):
        events = _run(endpoint)
    assert _apology(events), events
    lines = [r.getMessage() for r in caplog.records if r.name == "tongban.nlu.rasa_fixes"]
    assert lines == ["custom action action_answer not run, action server unavailable: unreachable"]
    assert "citizen-0001" not in lines[0] and "备案" not in lines[0]  # no sender, no message


def test_a_hung_action_server_gives_the_apology_after_the_configured_wait(monkeypatch, caplog):
    """A server that accepts the connection and never answers: Rasa would wait five minutes;
    here the citizen hears back after TONGBAN_ACTION_TIMEOUT seconds."""
    import time

    monkeypatch.setenv("TONGBAN_ACTION_TIMEOUT", "1")
    with socket.socket() as hung:
        hung.bind(("127.0.0.1", 0))
        hung.listen(1)  # the kernel accepts; nobody ever reads or answers
        endpoint = EndpointConfig(f"http://127.0.0.1:{hung.getsockname()[1]}/webhook")
        started = time.monotonic()
        with caplog.at_level(logging.ERROR, logger="tongban.nlu.rasa_fixes"):
            events = _run(endpoint)
        waited = time.monotonic() - started
    assert _apology(events), events
    assert 0.9 <= waited < 10, waited
    assert any("timeout" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (aiohttp.ServerDisconnectedError(), "unreachable"),
        (aiohttp.ClientOSError(104, "Connection reset by peer"), "unreachable"),
        (aiohttp.ServerTimeoutError("read timeout"), "timeout"),
        (TimeoutError(), "timeout"),  # the whole request (asyncio.TimeoutError)
        (ClientResponseError(500, "Internal Server Error", "boom"), "HTTP 500"),
        (ClientResponseError(502, "Bad Gateway", ""), "HTTP 502"),
        (ClientResponseError(503, "Service Unavailable", ""), "HTTP 503"),
        (ClientResponseError(401, "Unauthorized", ""), "HTTP 401"),
    ],
)
def test_an_unavailable_action_server_gives_one_apology(error, reason, caplog):
    with caplog.at_level(logging.ERROR, logger="tongban.nlu.rasa_fixes"):
        assert _apology(_run(_Endpoint(error)))
    assert caplog.records[-1].getMessage().endswith(f"unavailable: {reason}")


def test_an_action_that_declines_is_still_rejected():
    body = json.dumps({"action_name": "action_answer", "error": "不适用"})
    with pytest.raises(ActionExecutionRejection):
        _run(_Endpoint(ClientResponseError(400, "Bad Request", body)))


@pytest.mark.parametrize(
    "error",
    [
        ClientResponseError(404, "Not Found", "no such action"),
        ClientResponseError(403, "Forbidden", ""),
        aiohttp.ClientPayloadError("truncated"),
        ValueError("a bug, not an outage"),
    ],
)
def test_other_failures_are_raised_as_before(error):
    with pytest.raises((RasaException, ValueError)):
        _run(_Endpoint(error))


def test_a_malformed_answer_and_a_missing_endpoint_are_raised_as_before():
    with pytest.raises(ValidationError):
        _run(_Endpoint(answer={"events": "not a list"}))
    with pytest.raises(RasaException, match="no endpoint is configured"):
        _run(None)


def test_a_working_action_server_is_untouched():
    answer = {"events": [], "responses": [{"text": "可以办理。"}]}
    events = _run(_Endpoint(answer=answer))
    assert [e.text for e in events if isinstance(e, BotUttered)] == ["可以办理。"]


def test_one_apology_per_turn():
    """A form's validation and then its question both fail in one turn: the citizen reads the
    apology once. The next turn apologises again."""
    endpoint = _Endpoint(aiohttp.ServerDisconnectedError())
    first = _run(endpoint)
    assert _apology(first)
    assert _run(endpoint, *first) == []
    assert _apology(_run(endpoint, *first, UserUttered("还在吗")))


def test_every_channel_renders_the_apology_as_plain_text():
    """It is an ordinary bot text: the REST collector, socket.io and WeChat show it as it is."""
    from tongban.wechat.replies import render_turn

    (event,) = _run(_Endpoint(aiohttp.ServerDisconnectedError()))
    rest = CollectingOutputChannel()
    asyncio.run(rest.send_response("citizen-0001", event.message()))
    assert [m["text"] for m in rest.messages] == [ACTIONS_UNAVAILABLE_REPLY]
    assert render_turn(rest.messages).text == ACTIONS_UNAVAILABLE_REPLY
