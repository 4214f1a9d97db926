"""The WeChat Official Account (公众号) channel: Tencent's server posts each message here.

Registered in credentials.yml as `tongban.channels.wechat.WeChatInput`; the URL is
/webhooks/wechat/webhook (GET: URL verification; POST: messages). Per request:

1. the body is at most 64 KiB (413); `signature` (and in safe mode `msg_signature`) is checked in
   constant time, the timestamp must be within 5 minutes, and a (timestamp, nonce) pair cannot
   carry a second, different body (403); XML with a DOCTYPE or entities, or malformed, is 400;
2. the message is decrypted (safe and compatible modes, wechatpy) and read by
   tongban.wechat.messages: text and recognised voice go to the assistant with the OpenID as the
   sender (checked like every sender) and MsgType/Event in metadata["wechat"]; a menu click sends
   its button's payload; a location says "我在<省市>"; subscribe gets the greeting; unsubscribe
   deletes the conversation (tongban.wechat.forget) and is answered with nothing; other kinds get
   a polite text reply; a bare "1" picks option 1 of the last numbered list;
3. a message is run once, from the moment its first delivery arrives (tongban.wechat.stores
   DeliveryLog: MsgId, or FromUserName+CreateTime for events); Tencent's retries wait for it;
4. the turn's messages become one text (tongban.wechat.replies). If it is ready within the
   deadline (4.5 s), it is the passive reply, its first 2,048 bytes; otherwise the reply is
   "success" and the answer is pushed through the customer-service API when it is ready, unless
   a retry arrives in time to take it passively. Parts beyond the first are pushed, within
   Tencent's quota of 5 messages per 48 hours.

Nothing here decides what to answer: the assistant does, and tongban.render shapes the text.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from tongban.channels import server
from tongban.channels.client import client_key
from tongban.channels.inbound import TOO_LONG_REPLY, BadRequest, clean_sender, too_long
from tongban.channels.options import to_rasa_text
from tongban.handoff import channels as handoff_hooks
from tongban.settings import MAX_BODY_BYTES, settings
from tongban.wechat import messages as kinds
from tongban.wechat.config import WeChatConfig
from tongban.wechat.crypto import Query, Verifier, new_nonce, text_reply
from tongban.wechat.customer_service import CustomerService
from tongban.wechat.forget import forget_conversation
from tongban.wechat.replies import render_turn, split_bytes
from tongban.wechat.stores import (
    DeliveryLog,
    MemoryTTLStore,
    NonceGuard,
    OptionStore,
    Quota,
    TTLStore,
    poll,
)

log = logging.getLogger(__name__)

SUCCESS = "success"  # tells Tencent not to deliver again, and shows the user nothing
LATE_WAIT = 5.0  # seconds a late answer waits for a retry that is waiting to take it


class TurnOutput(OutputChannel):
    """Collects a turn's bot messages whole (Rasa's collector would split text at blank lines)."""

    @classmethod
    def name(cls) -> str:
        return "wechat"

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        self.messages.append(dict(message))

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        self.messages.append({"text": text})


class WeChatInput(InputChannel):
    @classmethod
    def name(cls) -> str:
        return "wechat"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> WeChatInput:
        from tongban.stores.redis_state import wechat_store  # memory, or Redis by settings

        config = WeChatConfig.from_credentials(credentials, settings().wechat)
        return cls(config, store=wechat_store(settings()))

    def __init__(
        self,
        config: WeChatConfig,
        store: TTLStore | None = None,
        customer_service: CustomerService | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.clock = clock
        self.verifier = Verifier(config, clock)
        store = store or MemoryTTLStore()
        self.nonces = NonceGuard(store)
        self.deliveries = DeliveryLog(store)
        self.options = OptionStore(store)
        self.quota = Quota(store, clock)
        self.customer_service = customer_service or CustomerService(
            config.appid, config.appsecret, config.api_base
        )
        self.tasks: set[asyncio.Task] = set()  # late answers and extra parts being pushed
        self.runs = 0  # assistant runs, for tests and logs
        self._agent: Any = None  # Rasa's agent (its tracker store), taken from the app

    # ------------------------------------------------------------------ routes ----------------

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        wechat = Blueprint("tongban_wechat_webhook", __name__)
        server.install(wechat)
        # Human handoff: agents' messages go out through the customer-service API.
        handoff_hooks.register_wechat(wechat, self)

        @wechat.listener("after_server_stop")
        async def close_client(_app: Any, _loop: Any) -> None:
            await self.customer_service.close()

        @wechat.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @wechat.route("/webhook", methods=["GET"])
        async def verify(request: Request) -> HTTPResponse:
            try:
                return response.text(self.verifier.echo(Query.from_args(request.args)))
            except BadRequest as exc:
                return response.text(str(exc), status=exc.status)

        @wechat.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            arrived = asyncio.get_running_loop().time()
            self._agent = getattr(request.app.ctx, "agent", None)
            try:
                query, message, sender = await self._checked(request)
            except BadRequest as exc:
                log.info("WeChat request refused (%s): %s", exc.status, str(exc).split(" / ")[-1])
                return response.text(str(exc), status=exc.status)
            except Exception as exc:  # never a traceback or a 5xx to Tencent
                log.error("WeChat request unreadable: %s", type(exc).__name__)
                return response.text("请求无法处理 / unreadable request", status=400)
            try:
                text = await self._answer(
                    message, sender, on_new_message, arrived + self.config.deadline
                )
            except Exception as exc:
                log.error(
                    "WeChat message failed: %s\n%s",
                    type(exc).__name__,
                    "".join(traceback.format_tb(exc.__traceback__)),
                )
                text = server.UNAVAILABLE_REPLY
            return self._passive(query, message, text)

        return wechat

    async def _checked(self, request: Request) -> tuple[Query, Any, str]:
        body = request.body or b""
        if len(body) > MAX_BODY_BYTES:
            raise BadRequest("请求内容过长 / body too large", status=413)
        query = Query.from_args(request.args)
        self.verifier.check(query)
        digest = hashlib.sha256(body).hexdigest()
        if not await self.nonces.first_use(query.timestamp, query.nonce, digest):
            raise BadRequest("nonce 已用过 / replayed nonce", status=403)
        message = self.verifier.open(query, body)
        sender = clean_sender(str(message.source or ""))
        return query, message, sender

    def _passive(self, query: Query, message: Any, text: str | None) -> HTTPResponse:
        if not text:
            return response.text(SUCCESS)
        xml = text_reply(message, text, self.clock())
        if query.encrypted:
            xml = self.verifier.seal(xml, query.nonce or new_nonce())
        return response.text(xml, content_type="application/xml; charset=utf-8")

    # ------------------------------------------------------------------ one message -----------

    async def _answer(
        self,
        message: Any,
        sender: str,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
        deadline: float,
    ) -> str | None:
        """The passive reply's text, or None for "success"."""
        action = kinds.understand(message)
        if isinstance(action, kinds.Ignore):
            return None
        key = kinds.dedup_key(message)
        if not await self.deliveries.claim(key):
            return await self._retry(key, sender, deadline)
        task = asyncio.ensure_future(self._run(key, action, sender, on_new_message))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        remaining = deadline - asyncio.get_running_loop().time()
        done, _ = await asyncio.wait({task}, timeout=max(remaining, 0.0))
        if task in done:
            parts = task.result()
            if parts and await self.deliveries.take(key, "passive"):
                self._push_later(sender, parts[1:])
                return parts[0]
            return None
        log.info("WeChat answer not ready within %.1f s: replying success", self.config.deadline)
        late = asyncio.ensure_future(self._deliver_late(key, sender, task))
        self.tasks.add(late)
        late.add_done_callback(self.tasks.discard)
        return None

    async def _retry(self, key: str, sender: str, deadline: float) -> str | None:
        """Tencent's next delivery of a message already running: wait for it, never run it."""
        loop = asyncio.get_running_loop()
        try:
            while True:
                parts = await self.deliveries.parts(key)
                if parts is not None:
                    how = await self.deliveries.delivered(key)
                    if how == "passive" and parts:
                        return parts[0]  # Tencent did not get it the first time: same reply
                    if how is None and parts and await self.deliveries.take(key, "passive"):
                        self._push_later(sender, parts[1:])
                        return parts[0]
                    if how is not None or not parts:
                        return None
                left = deadline - loop.time()
                if left <= 0:
                    return None
                await self.deliveries.wait_here(key, left + 1)
                await poll()
        finally:
            await self.deliveries.stop_waiting(key)

    async def _run(
        self,
        key: str,
        action: kinds.Action,
        sender: str,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
    ) -> list[str]:
        """Run the message once and record its reply's parts ([] for no reply)."""
        try:
            parts = await self._reply_parts(action, sender, on_new_message)
        except Exception as exc:
            log.error("WeChat turn failed: %s", type(exc).__name__)
            parts = [server.UNAVAILABLE_REPLY]
        await self.deliveries.finish(key, parts)
        return parts

    async def _reply_parts(
        self,
        action: kinds.Action,
        sender: str,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
    ) -> list[str]:
        if isinstance(action, kinds.Forget):
            await self.forget(sender)
            return []
        await self.quota.user_spoke(sender)
        if isinstance(action, kinds.Say):
            return split_bytes(action.text)
        assert isinstance(action, kinds.Ask)
        text = action.text
        if action.numbered:
            payload = await self.options.payload(sender, int(text))
            if payload is not None:
                text = to_rasa_text(payload)
        output = TurnOutput()
        if too_long(text):
            output.messages.append({"text": TOO_LONG_REPLY})
        else:
            metadata = {
                # Every WeChat request comes from Tencent's addresses; the per-address limit of
                # case lookups counts per WeChat account instead (an OpenID is a real account).
                "client": client_key(f"wechat:{sender}"),
                "wechat": action.wechat,
            }
            self.runs += 1
            try:
                await on_new_message(
                    UserMessage(text, output, sender, input_channel=self.name(), metadata=metadata)
                )
            except server.ConversationUnavailable:
                log.error("WeChat turn not processed: conversation unavailable")
                output.messages = [{"text": server.UNAVAILABLE_REPLY}]
            if not output.messages and await handoff_hooks.held(sender):
                return []  # an agent has the conversation: the paused bot stays silent
            if not output.messages:
                log.warning("WeChat turn produced no reply; sent the no-answer reply")
                output.messages.append({"text": server.NO_ANSWER_REPLY})
        rendered = render_turn(output.messages)
        await self.options.put(sender, rendered.payloads)
        return split_bytes(rendered.text)

    async def forget(self, sender: str) -> None:
        """unsubscribe: the user's conversation (with any case-verification data in it), options
        and quota are deleted."""
        await self.options.forget(sender)
        await self.quota.forget(sender)
        agent = self._agent
        store = getattr(agent, "tracker_store", None) if agent is not None else None
        if store is None or not forget_conversation(store, sender):
            log.error("unsubscribe: conversation not deleted (no known tracker store)")

    # ------------------------------------------------------------------ pushes ----------------

    async def _deliver_late(self, key: str, sender: str, task: asyncio.Task) -> None:
        parts = await asyncio.shield(task)
        if not parts:
            return
        loop = asyncio.get_running_loop()
        give_up = loop.time() + LATE_WAIT
        # A retry waiting right now answers passively, which costs no quota.
        while await self.deliveries.someone_waiting(key) and loop.time() < give_up:
            if await self.deliveries.delivered(key):
                return
            await poll()
        if await self.deliveries.take(key, "push"):
            await self._push(sender, parts)

    def _push_later(self, sender: str, parts: list[str]) -> None:
        if not parts:
            return
        task = asyncio.ensure_future(self._push(sender, parts))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _push(self, sender: str, parts: list[str]) -> None:
        for index, part in enumerate(parts):
            if not await self.quota.spend(sender):
                log.warning(
                    "WeChat quota used up: %d of %d parts not pushed",
                    len(parts) - index,
                    len(parts),
                )
                return
            if not await self.customer_service.send_text(sender, part):
                return
