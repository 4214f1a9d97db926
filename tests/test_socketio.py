"""The socket.io channel without a browser: its handlers are called directly with made-up socket
ids, python-socketio's emit/enter_room/leave_room are replaced by recorders, and Rasa is a stub
`on_new_message` that records the messages it gets and answers through the turn's output channel.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

import pytest

from tongban.channels import socketio as channel_module
from tongban.channels.client import client_key
from tongban.channels.feedback import MESSAGE_ID, message_id_belongs
from tongban.channels.inbound import SESSION_ID, TOO_LONG_REPLY
from tongban.channels.server import UNAVAILABLE_REPLY, ConversationUnavailable
from tongban.channels.socketio import MemoryReplyLog, SocketIOInput
from tongban.settings import MAX_BODY_BYTES, MAX_MESSAGE_CHARS

ANSWER = "可以在深圳办理结婚登记。\n\n来源：民政部公告"
ADDRESS = "203.0.113.9"
SESSION_A = "A" * 20 + "a" * 12  # 32 characters: the server's own format
SESSION_C = "C" * 32


@dataclass
class FakeRequest:
    remote_addr: str
    headers: dict = field(default_factory=dict)


class Harness:
    """One channel, its registered handlers, and what it emitted."""

    def __init__(
        self,
        delay: float = 0.0,
        fail: BaseException | None = None,
        answer: str = ANSWER,
        buttons: list[dict] | None = None,
        **credentials: Any,
    ) -> None:
        self.delay, self.fail, self.answer, self.buttons = delay, fail, answer, buttons
        self.calls: list = []
        self.emitted: list[tuple[str, Any, str | None]] = []
        self.rooms: list[tuple[str, str, str]] = []
        self.channel = SocketIOInput.from_credentials({"session_persistence": True} | credentials)
        self.channel.blueprint(self.on_new_message)
        sio = self.sio = self.channel.sio

        async def emit(event, data=None, to=None, room=None, namespace=None, **_):
            self.emitted.append((event, data, to or room))

        async def enter_room(sid, room, namespace=None):
            self.rooms.append(("enter", sid, room))

        async def leave_room(sid, room, namespace=None):
            self.rooms.append(("leave", sid, room))

        sio.emit, sio.enter_room, sio.leave_room = emit, enter_room, leave_room

    async def on_new_message(self, message) -> None:
        self.calls.append(message)
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.fail is not None:
            raise self.fail
        if self.buttons:
            await message.output_channel.send_text_with_buttons(
                message.sender_id, self.answer, self.buttons
            )
        else:
            await message.output_channel.send_text_message(message.sender_id, self.answer)

    def handler(self, event: str):
        return self.sio.handlers["/"][event]

    async def connect(self, sid: str, address: str = ADDRESS, auth: Any = None) -> bool:
        return await self.handler("connect")(sid, {"sanic.request": FakeRequest(address)}, auth)

    async def session(self, sid: str, session_id: Any = None, connect: bool = True) -> str:
        if connect:
            await self.connect(sid)
        await self.handler("session_request")(sid, {"session_id": session_id})
        event, confirmed, room = self.emitted[-1]
        assert (event, room) == ("session_confirm", sid)
        return confirmed

    async def say(self, sid: str, message: Any = "能领结婚证吗", **fields: Any) -> Any:
        payload = {"message": message} | fields
        return await self.handler("user_uttered")(sid, payload)

    async def send(self, sid: str, payload: Any) -> Any:
        return await self.handler("user_uttered")(sid, payload)

    def bot(self, sid: str | None = None) -> list[dict]:
        return [d for e, d, r in self.emitted if e == "bot_uttered" and sid in (None, r)]

    def events(self, name: str) -> list[tuple[Any, str | None]]:
        return [(d, r) for e, d, r in self.emitted if e == name]


def run(coro):
    return asyncio.run(coro)


# -- sessions ---------------------------------------------------------------------------------


def test_a_valid_session_id_is_kept_and_its_room_joined() -> None:
    h = Harness()
    assert run(h.session("sid1", SESSION_A)) == SESSION_A
    assert h.rooms == [("enter", "sid1", SESSION_A)]


@pytest.mark.parametrize(
    "asked",
    [None, "", "short", "abcdef0123456789", "x" * 31, "x" * 65, "a b" * 16, "../" * 12,
     "é" * 32, {"not": "a string"}, 42, ["A" * 32]],
    ids=repr,
)  # fmt: skip
def test_invalid_or_forged_session_ids_get_a_new_server_made_id(asked: Any) -> None:
    h = Harness()
    made = run(h.session("sid1", asked))
    assert made != asked
    assert SESSION_ID.fullmatch(made)
    assert len(made) >= 32  # token_urlsafe(24): 192 random bits
    assert h.rooms == [("enter", "sid1", made)]


def test_session_request_without_a_payload_gets_a_new_id() -> None:
    h = Harness()

    async def scenario():
        await h.connect("sid1")
        await h.handler("session_request")("sid1", "not a dict")
        await h.handler("session_request")("sid2")
        return [d for d, _ in h.events("session_confirm")]

    first, second = run(scenario())
    assert SESSION_ID.fullmatch(first) and SESSION_ID.fullmatch(second) and first != second


def test_new_ids_differ_every_time() -> None:
    h = Harness()
    ids = {run(h.session(f"sid{i}")) for i in range(50)}
    assert len(ids) == 50


def test_a_second_session_request_leaves_the_first_room() -> None:
    h = Harness()

    async def scenario():
        await h.session("sid1", SESSION_A)
        await h.session("sid1", SESSION_C, connect=False)
        return await h.say("sid1", session_id=SESSION_A, client_message_id="m-00000001")

    ack = run(scenario())
    assert h.rooms == [("enter", "sid1", SESSION_A), ("leave", "sid1", SESSION_A),
                       ("enter", "sid1", SESSION_C)]  # fmt: skip
    assert ack["status"] == "refused" and ack["error"] == "wrong_session"


# -- who may send -----------------------------------------------------------------------------


def test_user_uttered_before_session_request_is_refused() -> None:
    h = Harness()

    async def scenario():
        await h.connect("sid1")
        return await h.say("sid1", session_id=SESSION_A, client_message_id="m-00000001")

    ack = run(scenario())
    assert ack["status"] == "refused" and ack["error"] == "no_session"
    assert ack["reply_to"] is None
    assert h.events("message_refused") == [
        ({"reply_to": None, "error": "no_session", "message": ack["message"]}, "sid1")
    ]
    assert h.calls == [] and h.bot() == []


def test_user_uttered_from_an_unknown_socket_is_refused() -> None:
    h = Harness()
    ack = run(h.say("nobody", session_id=SESSION_A))
    assert ack["error"] == "no_session"
    assert h.calls == []


def test_user_uttered_for_someone_elses_session_is_refused() -> None:
    h = Harness()

    async def scenario():
        await h.session("sid-a", SESSION_A)
        await h.session("sid-c", SESSION_C)  # C is confirmed for its own session only
        return await h.say("sid-c", session_id=SESSION_A, client_message_id="m-00000001")

    ack = run(scenario())
    assert ack["status"] == "refused" and ack["error"] == "wrong_session"
    assert h.calls == [] and h.bot() == []
    assert ("enter", "sid-c", SESSION_A) not in h.rooms


def test_the_session_is_the_confirmed_one_even_without_a_session_id_field() -> None:
    h = Harness()

    async def scenario():
        session = await h.session("sid1")
        ack = await h.say("sid1", client_message_id="m-00000001")
        return session, ack

    session, ack = run(scenario())
    assert ack["status"] == "done"
    assert [m.sender_id for m in h.calls] == [session]


def test_a_disconnected_socket_is_forgotten() -> None:
    h = Harness()

    async def scenario():
        session = await h.session("sid1")
        await h.handler("disconnect")("sid1", "client disconnect")
        return await h.say("sid1", session_id=session, client_message_id="m-00000001")

    assert run(scenario())["error"] == "no_session"
    assert h.channel.sockets == {}
    assert h.calls == []


def test_jwt_is_still_required_when_configured() -> None:
    h = Harness(jwt_key="secret")
    assert run(h.connect("sid1")) is False
    assert run(h.connect("sid1", auth={"token": "not-a-jwt"})) is False
    assert "sid1" not in h.channel.sockets


# -- what may be sent -------------------------------------------------------------------------


BAD_PAYLOADS = {
    "not-a-dict": ["能领结婚证吗"],
    "string-payload": "能领结婚证吗",
    "none-payload": None,
    "lone-surrogate": {"message": "能领\ud800结婚证吗"},
    "non-string": {"message": 42},
    "list-message": {"message": ["能领结婚证吗"]},
    "missing-message": {},
    "empty": {"message": "  \n "},
    "only-control-characters": {"message": "\x00\x07\x1b"},
    "metadata-string": {"message": "你好", "metadata": '{"as_of": "2022-03-25"}'},
    "metadata-list": {"message": "你好", "metadata": ["as_of"]},
    "as-of-not-a-date": {"message": "你好", "metadata": {"as_of": "2024-02-30"}},
    "as-of-format": {"message": "你好", "metadata": {"as_of": "yesterday"}},
    "as-of-number": {"message": "你好", "metadata": {"as_of": 20240101}},
    "client-message-id": {"message": "你好", "client_message_id": "bad id!"},
    "client-message-id-short": {"message": "你好", "client_message_id": "abc"},
    "client-message-id-number": {"message": "你好", "client_message_id": 12345678},
    "oversize": {"message": "长" * (MAX_BODY_BYTES // 3 + 10)},
    "oversize-other-field": {"message": "你好", "padding": "x" * (MAX_BODY_BYTES + 1)},
}


@pytest.mark.parametrize("name", BAD_PAYLOADS)
def test_bad_payloads_are_refused_without_running_the_assistant(name: str) -> None:
    h = Harness()

    async def scenario():
        session = await h.session("sid1")
        payload = BAD_PAYLOADS[name]
        if isinstance(payload, dict):
            payload = {"session_id": session} | payload
        return await h.send("sid1", payload)

    ack = run(scenario())
    assert ack["status"] == "refused"
    assert ack["error"] in ("bad_request", "too_large")
    assert h.events("message_refused")[0][1] == "sid1"
    assert h.calls == []
    assert h.bot() == [] and h.events("turn_done") == []


def test_a_message_over_the_limit_gets_the_friendly_reply_without_nlu() -> None:
    h = Harness()

    async def scenario():
        session = await h.session("sid1")
        ack = await h.say("sid1", "长" * (MAX_MESSAGE_CHARS + 1), session_id=session,
                          client_message_id="m-00000001")  # fmt: skip
        return session, ack

    session, ack = run(scenario())
    assert h.calls == []
    assert ack == {"status": "done", "reply_to": "m-00000001"}
    [reply] = h.bot("sid1")
    assert reply["text"] == TOO_LONG_REPLY
    assert reply["reply_to"] == "m-00000001"
    assert message_id_belongs(session, reply["message_id"])


def test_a_message_at_the_limit_is_processed() -> None:
    h = Harness()
    run(h.session("sid1"))
    run(h.say("sid1", "长" * MAX_MESSAGE_CHARS, client_message_id="m-00000001"))
    assert len(h.calls) == 1


def test_text_is_cleaned_and_metadata_keeps_only_as_of_and_the_server_set_client() -> None:
    h = Harness()

    async def scenario():
        session = await h.session("sid1")
        await h.say(
            "sid1",
            "  能领\x07结婚证吗\u0301 ",
            session_id=session,
            client_message_id="m-00000001",
            metadata={"as_of": "2022-03-25", "client": "forged", "intent": "greet"},
        )

    run(scenario())
    [message] = h.calls
    assert message.text == "能领结婚证吗\u0301"
    assert message.metadata == {"as_of": "2022-03-25", "client": client_key(ADDRESS)}
    assert message.input_channel == "socketio"


def test_the_client_key_comes_from_the_connect_request() -> None:
    h = Harness()

    async def scenario():
        await h.connect("sid1", address="198.51.100.7")
        await h.session("sid1", connect=False)
        await h.say("sid1", client_message_id="m-00000001", metadata=None)

    run(scenario())
    assert h.calls[0].metadata == {"client": client_key("198.51.100.7")}


def test_engineio_accepts_at_most_64_kib_and_stays_on_polling() -> None:
    h = Harness()
    assert h.sio.eio.max_http_buffer_size == MAX_BODY_BYTES == 64 * 1024
    assert h.sio.eio.allow_upgrades is False
    assert h.channel.name() == "socketio"


# -- answers ----------------------------------------------------------------------------------


def test_bot_messages_carry_signed_ids_and_the_message_they_answer() -> None:
    h = Harness(buttons=[{"title": "要带什么材料", "payload": "/ask_materials"}])

    async def scenario():
        session = await h.session("sid1")
        ack = await h.say("sid1", session_id=session, client_message_id="m-00000001")
        return session, ack

    session, ack = run(scenario())
    assert ack == {"status": "done", "reply_to": "m-00000001"}
    messages = h.bot("sid1")
    # Rasa's splitting is kept: one bot_uttered per paragraph, buttons on the last one.
    assert [m["text"] for m in messages] == ANSWER.split("\n\n")
    assert messages[-1]["quick_replies"][0]["title"] == "要带什么材料"
    for message in messages:
        assert message["reply_to"] == "m-00000001"
        assert MESSAGE_ID.fullmatch(message["message_id"])
        assert message_id_belongs(session, message["message_id"])
        assert not message_id_belongs(SESSION_C, message["message_id"])
    assert len({m["message_id"] for m in messages}) == len(messages)
    # The turn ends after its last message, and only the asking socket hears of it.
    assert h.emitted[-1] == ("turn_done", {"reply_to": "m-00000001", "status": "done"}, "sid1")


def test_a_message_id_does_not_verify_with_its_parts_changed() -> None:
    h = Harness()
    session = run(h.session("sid1"))
    run(h.say("sid1", client_message_id="m-00000001"))
    message_id = h.bot()[0]["message_id"]
    nonce, signature = message_id.split(".")
    assert message_id_belongs(session, message_id)
    other = "A" if nonce[-1] != "A" else "B"
    assert not message_id_belongs(session, f"{nonce[:-1]}{other}.{signature}")
    assert not message_id_belongs(session, f"{nonce}.{'A' * 22}")
    assert not message_id_belongs(session, nonce)
    assert not message_id_belongs(session, None)


def test_a_repeat_while_the_first_is_running_waits_and_gets_the_same_messages() -> None:
    h = Harness(delay=0.2)

    async def scenario():
        session = await h.session("old")
        first = asyncio.create_task(
            h.say("old", session_id=session, client_message_id="m-00000001")
        )
        await asyncio.sleep(0.05)
        # The page reconnected (a new socket) and sends the unanswered message again.
        await h.session("new", session)
        second = await h.say("new", session_id=session, client_message_id="m-00000001")
        return await first, second

    first, second = run(scenario())
    assert len(h.calls) == 1
    assert first == second == {"status": "done", "reply_to": "m-00000001"}
    assert h.bot("old") == h.bot("new")
    assert len(h.bot("new")) == 2
    assert h.events("turn_done") == [
        ({"reply_to": "m-00000001", "status": "done"}, "old"),
        ({"reply_to": "m-00000001", "status": "done"}, "new"),
    ]


def test_a_repeat_after_the_first_finished_replays_it() -> None:
    h = Harness()

    async def scenario():
        session = await h.session("sid1")
        await h.say("sid1", session_id=session, client_message_id="m-00000001")
        await h.say("sid1", session_id=session, client_message_id="m-00000001")
        await h.say("sid1", "另一个问题", session_id=session, client_message_id="m-00000002")

    run(scenario())
    assert [m.text for m in h.calls] == ["能领结婚证吗", "另一个问题"]
    messages = h.bot("sid1")
    assert len(messages) == 6
    assert messages[0:2] == messages[2:4]  # the same messages, the same ids
    assert {m["reply_to"] for m in messages[4:]} == {"m-00000002"}


def test_the_same_client_message_id_in_another_session_is_another_message() -> None:
    h = Harness()

    async def scenario():
        await h.session("sid-a", SESSION_A)
        await h.session("sid-c", SESSION_C)
        await h.say("sid-a", client_message_id="m-00000001")
        await h.say("sid-c", client_message_id="m-00000001")

    run(scenario())
    assert [m.sender_id for m in h.calls] == [SESSION_A, SESSION_C]
    assert h.bot("sid-a")[0]["message_id"] != h.bot("sid-c")[0]["message_id"]


def test_a_message_without_a_client_id_gets_one_from_the_server() -> None:
    h = Harness()
    run(h.session("sid1"))
    ack = run(h.say("sid1"))
    assert ack["status"] == "done"
    assert len(ack["reply_to"]) >= 16
    assert {m["reply_to"] for m in h.bot()} == {ack["reply_to"]}


def test_a_repeat_that_waits_too_long_is_told_the_answer_is_not_ready(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(channel_module, "REPEAT_WAIT", 0.05)
    h = Harness(delay=0.3)

    async def scenario():
        await h.session("sid1")
        first = asyncio.create_task(h.say("sid1", client_message_id="m-00000001"))
        await asyncio.sleep(0.01)
        second = await h.say("sid1", client_message_id="m-00000001")
        return await first, second

    first, second = run(scenario())
    assert first["status"] == "done"
    assert second == {"status": "busy", "reply_to": "m-00000001"}
    assert len(h.calls) == 1


# -- failures ---------------------------------------------------------------------------------


def test_conversation_unavailable_gets_a_polite_reply_and_may_be_sent_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    h = Harness(fail=ConversationUnavailable("OperationalError"))
    text = "我的身份证号是110101199003071234"

    async def scenario():
        session = await h.session("sid1")
        first = await h.say("sid1", text, session_id=session, client_message_id="m-00000001")
        h.fail = None
        second = await h.say("sid1", text, session_id=session, client_message_id="m-00000001")
        return session, first, second

    with caplog.at_level(logging.DEBUG):
        session, first, second = run(scenario())
    assert first == {"status": "failed", "reply_to": "m-00000001"}
    [polite, *answer] = h.bot("sid1")
    assert polite["text"] == UNAVAILABLE_REPLY
    assert polite["reply_to"] == "m-00000001"
    assert message_id_belongs(session, polite["message_id"])
    assert ("turn_done", {"reply_to": "m-00000001", "status": "failed"}, "sid1") in h.emitted
    # The message was not processed, so sending it again runs it.
    assert second["status"] == "done"
    assert len(h.calls) == 2 and answer
    assert "110101199003071234" not in caplog.text


def test_any_exception_gets_a_polite_reply_without_the_text_in_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    text = "查询办件 SC2025110300342 身份证后四位0032"
    h = Harness(fail=ValueError(f"could not parse {text}"))

    async def scenario():
        await h.session("sid1")
        first = await h.say("sid1", text, client_message_id="m-00000001")
        second = await h.say("sid1", text, client_message_id="m-00000001")
        return first, second

    with caplog.at_level(logging.DEBUG):
        first, second = run(scenario())
    assert first == {"status": "failed", "reply_to": "m-00000001"}
    assert second == {"status": "done", "reply_to": "m-00000001"}  # its messages, delivered again
    messages = h.bot("sid1")
    assert [m["text"] for m in messages] == [UNAVAILABLE_REPLY, UNAVAILABLE_REPLY]
    assert messages[0]["message_id"] == messages[1]["message_id"]  # replayed, not run again
    assert len(h.calls) == 1
    assert "ValueError" in caplog.text
    assert "SC2025110300342" not in caplog.text and "0032" not in caplog.text


def test_a_failing_output_still_ends_the_turn() -> None:
    h = Harness(fail=RuntimeError("boom"))

    async def scenario():
        await h.session("sid1")
        real_emit = h.sio.emit

        async def emit(event, data=None, **kwargs):
            if event == "bot_uttered":
                raise ConnectionError("gone")
            await real_emit(event, data, **kwargs)

        h.sio.emit = emit
        return await h.say("sid1", client_message_id="m-00000001")

    assert run(scenario())["status"] == "failed"
    assert h.events("turn_done") == [({"reply_to": "m-00000001", "status": "failed"}, "sid1")]


def test_refusals_log_no_text(caplog: pytest.LogCaptureFixture) -> None:
    h = Harness()
    with caplog.at_level(logging.DEBUG):
        run(h.session("sid1"))
        run(h.say("sid1", "身份证110101199003071234\ud800"))
    assert h.calls == []
    assert "110101199003071234" not in caplog.text


# -- the reply log ----------------------------------------------------------------------------


def test_reply_log_forgets_turns_after_their_time_and_keeps_a_bounded_number() -> None:
    now = [0.0]
    log = MemoryReplyLog(ttl=600, max_turns=3, clock=lambda: now[0])

    async def scenario():
        assert await log.claim("s", "m1")
        await log.record("s", "m1", {"text": "答"})
        await log.finish("s", "m1")
        assert not await log.claim("s", "m1")
        assert await log.replay("s", "m1", timeout=1) == [{"text": "答"}]
        now[0] = 599
        assert await log.replay("s", "m1", timeout=1) == [{"text": "答"}]
        now[0] = 601
        assert await log.replay("s", "m1", timeout=1) is None
        assert await log.claim("s", "m1")  # expired: a new turn
        for name in ("m2", "m3", "m4"):
            assert await log.claim("s", name)
        assert len(log) == 3
        assert await log.replay("s", "m1", timeout=1) is None  # the oldest went first

    run(scenario())


def test_reply_log_keeps_a_bounded_number_of_messages_per_turn() -> None:
    log = MemoryReplyLog()

    async def scenario():
        await log.claim("s", "m1")
        for i in range(200):
            await log.record("s", "m1", {"text": str(i)})
        await log.finish("s", "m1")
        return await log.replay("s", "m1", timeout=1)

    assert len(run(scenario())) == channel_module.MAX_MESSAGES_PER_TURN


def test_reply_log_waits_for_a_running_turn() -> None:
    log = MemoryReplyLog()

    async def scenario():
        await log.claim("s", "m1")
        waiting = asyncio.create_task(log.replay("s", "m1", timeout=1))
        await asyncio.sleep(0.01)
        assert not waiting.done()
        await log.record("s", "m1", {"text": "答"})
        await log.finish("s", "m1")
        assert await waiting == [{"text": "答"}]
        with pytest.raises(TimeoutError):
            await log.claim("s", "m2")
            await log.replay("s", "m2", timeout=0.01)

    run(scenario())
