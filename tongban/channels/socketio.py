"""Rasa's socket.io channel, fixed for the library versions Tongban runs on and made safe to expose.

Same name ("socketio"), options and events as `rasa.core.channels.socketio.SocketIOInput`
(registered in credentials.yml as `tongban.channels.socketio.SocketIOInput`), with two fixes:

1. With `session_persistence: true`, Rasa 3.6.21 calls `sio.enter_room(...)` without `await`; in
   python-socketio 5.18 that method is a coroutine, so the client never joined its session's room
   and no bot message ever reached the browser. `session_request` here awaits it.
2. Sanic 21.12's WebSocket implementation passes coroutines to `asyncio.wait`, which Python 3.11
   refuses, so every upgrade to WebSocket fails with a traceback. The server here does not offer
   the upgrade: clients stay on HTTP long-polling, which works. When Sanic is upgraded, drop this.

and these protections (the session id is the conversation's sender id, so it is a bearer secret):

- `session_request` accepts a client's session id only in the server's own format (32-64 URL-safe
  characters); otherwise it makes a new one (`secrets.token_urlsafe(24)`, 192 bits). A socket may
  send `user_uttered` only for the session it was confirmed for: a message naming another session,
  or sent before `session_request`, is refused and never reaches Rasa.
- The payload is checked with `tongban.channels.inbound`: text (valid Unicode, NFC, no control
  characters), metadata (only `as_of`), the client message id; a message over 1,000 characters is
  answered with TOO_LONG_REPLY without running the NLU. The server sets metadata["client"], the
  keyed hash of the client address taken when the socket connected. Engine.IO accepts at most
  64 KiB per request.
- Each user message carries a `client_message_id`; the server answers an id once per session. A
  repeat (the page re-sends after reconnecting) waits for the first to finish and gets the same
  bot messages again, with the same message ids: the assistant never runs twice for one message.
- Every bot message of a turn carries `message_id` (signed for the session: only such ids can be
  rated, see `tongban.channels.feedback`) and `reply_to` (the client message id); the end of the
  turn is the ack of `user_uttered` and a `turn_done` event. If the assistant fails, the user gets
  a polite reply (UNAVAILABLE_REPLY) and the log gets no message text.

Protocol (namespace "/" unless configured):

    client -> server  session_request  {"session_id": optional previous id}
    server -> client  session_confirm  "<session id>"
    client -> server  user_uttered     {"message", "session_id", "client_message_id",
                                        "metadata": optional {"as_of": "YYYY-MM-DD"}}   (with ack)
    server -> client  bot_uttered      {"text", "quick_replies"?, ..., "message_id", "reply_to",
                                        "tongban"?: {"reply": <tongban/reply.schema.json>,
                                                     "expanded": bool}}
    server -> client  turn_done        {"reply_to", "status": "done" | "failed"}
    server -> client  message_refused  {"reply_to", "error", "message"}
    ack of user_uttered                {"status": "done" | "failed" | "refused" | "busy",
                                        "reply_to", "error"?, "message"?}

A Tongban answer arrives as one bot_uttered carrying the typed Reply (`tongban`); other texts keep
Rasa's splitting into one bot_uttered per paragraph. Option payloads a tapped button sends
(`item:…`, `ask:…`, `case:…`) are mapped to Rasa's messages by tongban.channels.options.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
import traceback
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import rasa.core.channels.channel
from rasa.core.channels.channel import UserMessage
from rasa.core.channels.socketio import SocketIOInput as RasaSocketIOInput
from rasa.core.channels.socketio import SocketIOOutput
from sanic import Blueprint
from socketio import AsyncServer

from tongban.channels import server
from tongban.channels.client import client_key, request_client_key
from tongban.channels.feedback import new_message_id
from tongban.channels.inbound import (
    SESSION_ID,
    TOO_LONG_REPLY,
    BadRequest,
    clean_client_message_id,
    clean_metadata,
    clean_text,
    too_long,
)
from tongban.channels.options import to_rasa_text
from tongban.channels.server import NO_ANSWER_REPLY, UNAVAILABLE_REPLY, ConversationUnavailable
from tongban.console.ratings import AnswerLog, answer_log, note_message
from tongban.handoff import channels as handoff_hooks
from tongban.settings import MAX_BODY_BYTES, settings
from tongban.stores import redis_state as shared_state

logger = logging.getLogger(__name__)

REPLY_TTL = 600.0  # seconds a turn's bot messages are kept for repeats
MAX_TURNS = 5000  # turns remembered at once (oldest forgotten first)
MAX_MESSAGES_PER_TURN = 50
REPEAT_WAIT = 90.0  # seconds a repeat waits for the first run of its message

REFUSALS = {
    "no_session": "请先建立会话 / send session_request first",
    "wrong_session": "消息不属于本连接的会话 / not the session of this connection",
    "bad_request": "请求格式不对 / malformed request",
    "too_large": "请求内容过长 / payload too large",
}


def new_session_id() -> str:
    return secrets.token_urlsafe(24)


# ---------------------------------------------------------------- answered messages ------------


class ReplyLog:
    """The bot messages of each (session, client message id) turn, so a repeat of a message gets
    the same answer instead of a second run of the assistant.

    The web server keeps it in memory (`MemoryReplyLog`); several Rasa instances behind a load
    balancer would share one in Redis with the same four methods.
    """

    async def claim(self, session_id: str, message_id: str) -> bool:
        """True if the caller is the first with this message and must run it."""
        raise NotImplementedError

    async def record(self, session_id: str, message_id: str, message: dict[str, Any]) -> None:
        """One more bot message of the turn the caller claimed."""
        raise NotImplementedError

    async def finish(self, session_id: str, message_id: str, keep: bool = True) -> None:
        """The claimed turn has ended; `keep=False` forgets it, so a repeat runs it afresh."""
        raise NotImplementedError

    async def replay(
        self, session_id: str, message_id: str, timeout: float
    ) -> list[dict[str, Any]] | None:
        """The bot messages of a claimed turn once it has ended; None if it is not known (any
        more). Raises TimeoutError if it is still running after `timeout` seconds."""
        raise NotImplementedError


@dataclass
class _Turn:
    started: float
    messages: list[dict[str, Any]] = field(default_factory=list)
    done: asyncio.Event = field(default_factory=asyncio.Event)


class MemoryReplyLog(ReplyLog):
    """Turns of the last `ttl` seconds, at most `max_turns` of them, in this process."""

    def __init__(
        self,
        ttl: float = REPLY_TTL,
        max_turns: int = MAX_TURNS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.max_turns = max_turns
        self.clock = clock
        self._turns: OrderedDict[tuple[str, str], _Turn] = OrderedDict()

    def __len__(self) -> int:
        return len(self._turns)

    def _expire(self) -> None:
        oldest = self.clock() - self.ttl
        while self._turns:
            turn = next(iter(self._turns.values()))
            if turn.started >= oldest and len(self._turns) <= self.max_turns:
                break
            self._turns.popitem(last=False)

    def _get(self, key: tuple[str, str]) -> _Turn | None:
        self._expire()
        return self._turns.get(key)

    async def claim(self, session_id: str, message_id: str) -> bool:
        key = (session_id, message_id)
        if self._get(key) is not None:
            return False
        self._turns[key] = _Turn(self.clock())
        self._expire()
        return True

    async def record(self, session_id: str, message_id: str, message: dict[str, Any]) -> None:
        turn = self._turns.get((session_id, message_id))
        if turn is not None and len(turn.messages) < MAX_MESSAGES_PER_TURN:
            turn.messages.append(message)

    async def finish(self, session_id: str, message_id: str, keep: bool = True) -> None:
        key = (session_id, message_id)
        turn = self._turns.get(key)
        if turn is None:
            return
        if not keep:
            del self._turns[key]
        turn.done.set()

    async def replay(
        self, session_id: str, message_id: str, timeout: float
    ) -> list[dict[str, Any]] | None:
        turn = self._get((session_id, message_id))
        if turn is None:
            return None
        await asyncio.wait_for(turn.done.wait(), timeout)
        # Forgotten while it ran (a failure the user may send again): not an answer to replay.
        if self._turns.get((session_id, message_id)) is not turn:
            return None
        return [dict(message) for message in turn.messages]


# ---------------------------------------------------------------- output of one turn -----------


class TurnOutput(SocketIOOutput):
    """Rasa's socket.io output for one turn: every message gets a signed `message_id` and the
    `reply_to` of the user message it answers, goes to the socket that sent that message, and is
    recorded for repeats. Text is split into paragraphs as Rasa does."""

    def __init__(
        self,
        sio: AsyncServer,
        bot_message_evt: str,
        sid: str,
        session_id: str,
        reply_to: str,
        namespace: str | None,
        record: Callable[[dict[str, Any]], Awaitable[None]],
    ) -> None:
        super().__init__(sio, bot_message_evt)
        self.sent = 0
        self.sid = sid
        self.session_id = session_id
        self.reply_to = reply_to
        self.namespace = namespace
        self._record = record

    async def _send_message(self, socket_id: str, response: Any) -> None:
        message = dict(response) if isinstance(response, dict) else {"text": str(response)}
        message["message_id"] = new_message_id(self.session_id)
        message["reply_to"] = self.reply_to
        self.sent += 1
        await self._record(message)
        await self.sio.emit(self.bot_message_evt, message, room=self.sid, namespace=self.namespace)

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        """A Tongban answer (text fallback + buttons + the typed Reply as custom JSON) goes out
        as one bot_uttered: {"text", "quick_replies", "tongban": {"reply", "expanded"}}. The
        page renders the Reply; the text is for clients that cannot."""
        tongban = (message.get("custom") or {}).get("tongban")
        if not (isinstance(tongban, dict) and isinstance(tongban.get("reply"), dict)):
            await super().send_response(recipient_id, message)
            return
        out: dict[str, Any] = {"text": message.get("text") or "", "tongban": tongban}
        buttons = message.get("buttons") or []
        if buttons:
            out["quick_replies"] = [
                {"content_type": "text", "title": b.get("title"), "payload": b.get("payload")}
                for b in buttons
            ]
        await self._send_message(recipient_id, out)

    async def send_custom_json(
        self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any
    ) -> None:
        # Rasa's version passes the JSON's keys to emit() as arguments; send it as a message.
        await self._send_message(recipient_id, dict(json_message))


# ---------------------------------------------------------------- the channel ------------------


@dataclass
class _Socket:
    client: str  # keyed hash of the client address, taken at connect
    session_id: str | None = None


class Refused(Exception):
    def __init__(self, error: str, message: str | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.message = message or REFUSALS.get(error, REFUSALS["bad_request"])


def _payload_size(data: Any) -> int:
    try:
        return len(json.dumps(data, ensure_ascii=False).encode("utf-8", "surrogatepass"))
    except (TypeError, ValueError, RecursionError):
        return MAX_BODY_BYTES + 1


class SocketIOInput(RasaSocketIOInput):
    def __init__(
        self,
        *args: Any,
        reply_log: ReplyLog | None = None,
        answers: AnswerLog | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        # In memory, or in Redis for several instances (settings.reply_log_backend).
        self.reply_log = reply_log or shared_state.reply_log(settings())
        # What each sent answer said (item, kind, lead), for the console's 好差评 view.
        self.answers = answers or answer_log(settings())  # SQLite, or PostgreSQL by settings
        self.sockets: dict[str, _Socket] = {}

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        socketio_webhook = super().blueprint(on_new_message)
        server.install(socketio_webhook)
        sio = self.sio
        assert sio is not None  # set by the parent's blueprint()
        manager = shared_state.socketio_manager(settings())
        if manager is not None:  # Redis: emits to a session reach it on whichever instance
            sio.manager = manager
            manager.set_server(sio)
        sio.eio.allow_upgrades = False
        sio.eio.max_http_buffer_size = MAX_BODY_BYTES
        namespace = self.namespace
        sockets = self.sockets
        # Human handoff: agents' messages reach this session's room (tongban/handoff/channels.py).
        handoff_hooks.register_socketio(socketio_webhook, sio, self.bot_message_evt, namespace)

        @sio.on("connect", namespace=namespace)
        async def connect(sid: str, environ: dict, auth: dict | None = None) -> bool:
            if self.jwt_key:
                token = auth.get("token") if isinstance(auth, dict) else None
                payload = (
                    rasa.core.channels.channel.decode_bearer_token(
                        token, self.jwt_key, self.jwt_algorithm
                    )
                    if token
                    else None
                )
                if not payload:
                    return False
            request = environ.get("sanic.request") if isinstance(environ, dict) else None
            sockets[sid] = _Socket(
                client=request_client_key(request) if request is not None else _unknown_client()
            )
            return True

        @sio.on("disconnect", namespace=namespace)
        async def disconnect(sid: str, reason: Any = None) -> None:
            sockets.pop(sid, None)

        @sio.on("session_request", namespace=namespace)
        async def session_request(sid: str, data: Any = None) -> None:
            asked = data.get("session_id") if isinstance(data, dict) else None
            session_id = (
                asked if isinstance(asked, str) and SESSION_ID.fullmatch(asked) else None
            ) or new_session_id()
            socket = sockets.setdefault(sid, _Socket(client=_unknown_client()))
            if self.session_persistence:
                if socket.session_id and socket.session_id != session_id:
                    await sio.leave_room(sid, socket.session_id, namespace=namespace)
                await sio.enter_room(sid, session_id, namespace=namespace)
            socket.session_id = session_id
            await sio.emit("session_confirm", session_id, room=sid, namespace=namespace)
            await handoff_hooks.replay_socketio(
                sio, self.bot_message_evt, sid, session_id, namespace
            )

        async def refuse(sid: str, reply_to: str | None, refusal: Refused) -> dict[str, Any]:
            logger.info("socket.io message refused: %s", refusal.error)
            body = {"reply_to": reply_to, "error": refusal.error, "message": refusal.message}
            await sio.emit("message_refused", body, room=sid, namespace=namespace)
            return {"status": "refused", **body}

        async def end_turn(sid: str, reply_to: str, status: str) -> dict[str, Any]:
            body = {"reply_to": reply_to, "status": status}
            await sio.emit("turn_done", body, room=sid, namespace=namespace)
            return body

        async def run_turn(
            sid: str, session_id: str, reply_to: str, text: str, metadata: dict[str, Any]
        ) -> str:
            """Run one claimed turn and end it in the reply log; its status, "done" or "failed"."""
            log = self.reply_log

            async def record(message: dict[str, Any]) -> None:
                await log.record(session_id, reply_to, message)
                await note_message(self.answers, session_id, message)

            output = TurnOutput(
                sio, self.bot_message_evt, sid, session_id, reply_to, namespace, record
            )
            status, keep = "failed", True
            try:
                try:
                    if too_long(text):
                        await output.send_text_message(session_id, TOO_LONG_REPLY)
                    else:
                        await on_new_message(
                            UserMessage(
                                text,
                                output,
                                session_id,
                                input_channel=self.name(),
                                metadata=metadata,
                            )
                        )
                    status = "done"
                    # While an agent has the conversation, the paused bot's silence is right.
                    if not output.sent and not await handoff_hooks.held(session_id):
                        logger.warning("socket.io turn produced no reply; sent the no-answer reply")
                        await output.send_text_message(session_id, NO_ANSWER_REPLY)
                except ConversationUnavailable:
                    # Not processed at all: a repeat of this message may run it again.
                    logger.error("socket.io turn not processed: conversation unavailable")
                    keep = False
                except Exception as exc:  # whatever fails, the user is answered
                    # The frames, not the exception's text: that could quote the user's message.
                    logger.error(
                        "socket.io turn failed: %s\n%s",
                        type(exc).__name__,
                        "".join(traceback.format_tb(exc.__traceback__)),
                    )
                if status == "failed":
                    try:
                        await output.send_text_message(session_id, UNAVAILABLE_REPLY)
                    except Exception as exc:
                        logger.error("socket.io failure reply not sent: %s", type(exc).__name__)
            finally:
                await log.finish(session_id, reply_to, keep=keep)
            return status

        async def handle_message(sid: str, data: Any = None) -> dict[str, Any]:
            reply_to: str | None = None
            try:
                socket = sockets.get(sid)
                if socket is None or socket.session_id is None:
                    raise Refused("no_session")
                session_id = socket.session_id
                if not isinstance(data, dict):
                    raise Refused("bad_request")
                reply_to = clean_client_message_id(data.get("client_message_id"))
                named = data.get("session_id")
                if named is not None and named != session_id:
                    raise Refused("wrong_session")
                if _payload_size(data) > MAX_BODY_BYTES:
                    raise Refused("too_large")
                text = to_rasa_text(clean_text(data.get("message")))
                metadata = clean_metadata(data.get(self.metadata_key))
            except BadRequest as exc:
                return await refuse(sid, reply_to, Refused("bad_request", str(exc)))
            except Refused as refusal:
                return await refuse(sid, reply_to, refusal)
            metadata["client"] = socket.client
            if reply_to is None:  # a client that sends no id gets one; it cannot repeat it
                reply_to = secrets.token_urlsafe(12)

            try:
                return await answer_once(sid, session_id, reply_to, text, metadata)
            except shared_state.SharedStateUnavailable as exc:  # Redis down: say so, retry later
                logger.error("socket.io turn not run: %s", exc)
                await sio.emit(
                    self.bot_message_evt, {"text": UNAVAILABLE_REPLY}, room=sid, namespace=namespace
                )
                return {"status": "unavailable", "reply_to": reply_to}

        async def answer_once(
            sid: str, session_id: str, reply_to: str, text: str, metadata: dict[str, Any]
        ) -> dict[str, Any]:
            log = self.reply_log
            for _ in range(3):
                if await log.claim(session_id, reply_to):
                    status = await run_turn(sid, session_id, reply_to, text, metadata)
                    return await end_turn(sid, reply_to, status)
                try:
                    messages = await log.replay(session_id, reply_to, REPEAT_WAIT)
                except TimeoutError:
                    return {"status": "busy", "reply_to": reply_to}
                if messages is None:
                    continue  # forgotten meanwhile: claim it again
                for message in messages:
                    await sio.emit(self.bot_message_evt, message, room=sid, namespace=namespace)
                return await end_turn(sid, reply_to, "done")
            return {"status": "busy", "reply_to": reply_to}

        sio.on(self.user_message_evt, handle_message, namespace=namespace)
        return socketio_webhook


def _unknown_client() -> str:
    return client_key("unknown")
