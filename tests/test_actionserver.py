"""The action server answers only Rasa: without the shared secret every call gets 401."""

from __future__ import annotations

import asyncio
import json

import pytest
from sanic import Sanic

from tests.asgi import AsgiClient
from tongban.actionserver import build_app, main
from tongban.settings import Settings

TOKEN = "test-token-0123456789"


@pytest.fixture(scope="module")
def call():
    Sanic.test_mode = True
    client = AsgiClient(build_app(TOKEN))

    def request(method, path, body=None, token=None):
        headers = {"authorization": f"Bearer {token}"} if token is not None else {}
        data = json.dumps(body).encode() if body is not None else b""
        status, _, content = asyncio.run(client.request(method, path, data, headers=headers))
        return status, json.loads(content or b"null")

    return request


def action_call(action: str, sender: str = "VICTIM") -> dict:
    return {
        "next_action": action,
        "sender_id": sender,
        "tracker": {"sender_id": sender, "slots": {}, "latest_message": {}, "events": []},
        "domain": {},
        "version": "3.6.21",
    }


# The reproduction: anyone could run action_case_history for any sender_id.
@pytest.mark.parametrize("token", [None, "", "wrong", TOKEN + "x", TOKEN[:-1]])
def test_calls_without_the_secret_get_401(call, token) -> None:
    status, body = call("POST", "/webhook", action_call("action_case_history"), token)
    assert status == 401
    assert body == {"error": "unauthorized"}
    assert call("GET", "/actions", token=token)[0] == 401


def test_rasa_with_the_secret_is_served(call) -> None:
    status, body = call("POST", "/webhook", action_call("action_ask_case_number"), TOKEN)
    assert status == 200
    assert body["responses"][0]["text"].startswith("请提供办件编号")


def test_health_is_open_and_says_nothing_else(call) -> None:
    assert call("GET", "/health") == (200, {"status": "ok"})


def test_no_token_configured_refuses_to_start(monkeypatch, capsys) -> None:
    import tongban.actionserver

    unset = Settings.from_env({"TONGBAN_SECRET_KEY": "k"})
    monkeypatch.setattr(tongban.actionserver, "settings", lambda: unset)
    assert main(["--port", "1"]) == 2
    assert "TONGBAN_ACTION_TOKEN" in capsys.readouterr().err


def test_an_empty_token_is_not_a_token() -> None:
    with pytest.raises(ValueError):
        build_app("")
