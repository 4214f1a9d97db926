"""Attacks and fuzzing on the running socket.io channel (a python-socketio client, long-polling).

Whatever a client sends, it gets an ack: "done" with bot messages for a well-formed message,
"refused" for anything else; nothing reaches another session, and the server stays up.
"""

from __future__ import annotations

import string
import threading

import pytest
import requests
import socketio
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.browser.conftest import Servers
from tests.browser.test_attacks import ANY_CHAR, FUZZ, JSON, WELL_FORMED_TEXT, assert_alive

TIMEOUT = 60


class Chat:
    """One socket with a confirmed session, collecting the bot messages it receives."""

    def __init__(self, servers: Servers, session_id: str | None = None) -> None:
        self.client = socketio.Client(reconnection=False)
        self.messages: list[dict] = []
        self.session_id: str | None = None
        confirmed = threading.Event()

        def on_confirm(sid: str) -> None:
            self.session_id = sid
            confirmed.set()

        self.client.on("session_confirm", on_confirm)
        self.client.on("bot_uttered", lambda message: self.messages.append(message))
        self.client.connect(
            f"http://127.0.0.1:{servers.rasa_port}", transports=["polling"], wait_timeout=30
        )
        self.client.emit("session_request", {"session_id": session_id})
        assert confirmed.wait(30), "no session_confirm"

    def say(self, payload) -> dict:
        return self.client.call("user_uttered", payload, timeout=TIMEOUT)

    def close(self) -> None:
        self.client.disconnect()


@pytest.fixture(scope="module")
def chat(servers: Servers):
    chat = Chat(servers)
    yield chat
    chat.close()


def test_a_forged_session_id_is_replaced_by_a_server_one(servers: Servers) -> None:
    for forged in ("default", "x", "../../etc", "a" * 200, "\ud800" * 40):
        chat = Chat(servers, forged)
        assert chat.session_id != forged and len(chat.session_id) >= 32
        chat.close()


def test_nobody_can_speak_in_someone_elses_session(servers: Servers, chat: Chat) -> None:
    victim = chat.session_id
    attacker = Chat(servers)
    ack = attacker.say(
        {"message": "查看办理记录", "session_id": victim, "client_message_id": "atk00001"}
    )
    assert ack["status"] == "refused" and ack["error"] == "wrong_session"
    assert not attacker.messages
    attacker.close()


def test_a_message_before_session_request_is_refused(servers: Servers) -> None:
    client = socketio.Client(reconnection=False)
    client.connect(f"http://127.0.0.1:{servers.rasa_port}", transports=["polling"], wait_timeout=30)
    ack = client.call(
        "user_uttered", {"message": "你好", "client_message_id": "early001"}, timeout=30
    )
    assert ack["status"] == "refused" and ack["error"] == "no_session"
    client.disconnect()


def test_a_repeated_message_is_answered_once_with_the_same_ids(chat: Chat) -> None:
    before = len(chat.messages)
    first = chat.say({"message": "异地就医怎么备案", "session_id": chat.session_id,
                      "client_message_id": "repeat0001"})  # fmt: skip
    answered = [m["message_id"] for m in chat.messages[before:]]
    again = chat.say({"message": "异地就医怎么备案", "session_id": chat.session_id,
                      "client_message_id": "repeat0001"})  # fmt: skip
    replayed = [m["message_id"] for m in chat.messages[before + len(answered) :]]
    assert first["status"] == again["status"] == "done"
    assert answered and replayed == answered


@settings(FUZZ, max_examples=150)
@given(text=WELL_FORMED_TEXT, n=st.integers(0, 10**9))
def test_fuzz_well_formed_messages_are_answered(chat: Chat, text: str, n: int) -> None:
    before = len(chat.messages)
    reply_to = f"fz{n:012d}"
    ack = chat.say({"message": text, "session_id": chat.session_id, "client_message_id": reply_to})
    assert ack["status"] == "done", ack
    mine = [m for m in chat.messages[before:] if m.get("reply_to") == reply_to]
    # A text, a typed reply, or a handoff status (a random text may ask for a person).
    said = ("text", "tongban", "handoff")
    assert mine and all(any(m.get(k) for k in said) for m in mine), "empty answer"


PAYLOAD = st.one_of(
    JSON,
    st.fixed_dictionaries(
        {"message": st.one_of(st.text(ANY_CHAR, max_size=60), JSON)},
        optional={
            "session_id": st.one_of(st.text(string.ascii_letters, max_size=70), JSON),
            "client_message_id": st.one_of(st.text(ANY_CHAR, max_size=70), JSON),
            "metadata": JSON,
        },
    ),
)


@settings(FUZZ, max_examples=400)
@given(payload=PAYLOAD)
def test_fuzz_anything_gets_an_ack(chat: Chat, payload) -> None:
    if isinstance(payload, dict) and payload.get("session_id") is None:
        payload = payload | {"session_id": chat.session_id}
    ack = chat.say(payload)
    assert isinstance(ack, dict) and ack.get("status") in ("done", "refused"), ack


def test_zz_the_server_is_still_up(servers: Servers, chat: Chat) -> None:
    assert_alive(servers)
    ack = chat.say(
        {"message": "你好", "session_id": chat.session_id, "client_message_id": "last0001"}
    )
    assert ack["status"] == "done"
    assert requests.get(f"{servers.base}", timeout=TIMEOUT).ok
