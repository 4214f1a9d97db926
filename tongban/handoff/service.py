"""The handoff itself: queue a conversation or offer a callback, let an agent take it, carry the
agent's messages to the citizen's own channel, hold the bot silent, and hand back or close.

Channels register how they deliver (`Deliveries`); the Rasa server supplies `ConversationControl`
(pause and resume the bot, read the transcript: tongban.handoff.rasa). The service only knows
these two small interfaces and the store.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from tongban.handoff import texts
from tongban.handoff.hours import ServiceHours
from tongban.handoff.phones import find_phone, mask_phone
from tongban.handoff.store import (
    ACTIVE,
    CLOSED,
    QUEUED,
    RETURNED,
    Callback,
    HandoffError,
    HandoffStore,
    StoredMessage,
    Ticket,
)
from tongban.security.keys import Keys
from tongban.security.redact import redact

log = logging.getLogger(__name__)

MAX_AGENT_TEXT = 1000
MAX_NOTE = 500
REPLAY_SECONDS = 24 * 3600  # a reconnecting widget gets the agents' messages of the last day
_MESSAGE_PURPOSE = "handoff:message"
_CALLBACK_PURPOSE = "handoff:callback"
_SLOT_PURPOSE = "handoff:phone-slot"

Deliver = Callable[[str, dict[str, Any]], Awaitable[bool]]


class Deliveries:
    """How each channel delivers an agent's message: channel name -> async (sender, message) ->
    delivered. Channels register themselves when the Rasa server builds them."""

    def __init__(self) -> None:
        self._by_channel: dict[str, Deliver] = {}

    def register(self, channel: str, deliver: Deliver) -> None:
        self._by_channel[channel] = deliver

    def knows(self, channel: str) -> bool:
        return channel in self._by_channel

    async def deliver(self, channel: str, sender: str, message: dict[str, Any]) -> bool:
        deliver = self._by_channel.get(channel)
        if deliver is None:
            log.warning("handoff: no delivery for channel %s", channel)
            return False
        try:
            return await deliver(sender, message)
        except Exception as exc:  # a channel failure is reported to the agent, never raised
            log.error("handoff: delivery over %s failed: %s", channel, type(exc).__name__)
            return False


@dataclass(frozen=True)
class Line:
    """One line of a transcript, as an agent sees it (texts already masked)."""

    who: str  # "citizen", "bot", "agent", "system"
    text: str
    at: float
    agent: str | None = None


class ConversationControl:
    """The bot's side of a conversation: pause it, resume it, read what was said."""

    async def pause(self, sender: str) -> None:
        raise NotImplementedError

    async def resume(self, sender: str) -> None:
        raise NotImplementedError

    async def transcript(self, sender: str) -> list[Line]:
        raise NotImplementedError


@dataclass(frozen=True)
class Offer:
    kind: str  # "queued" | "active" | "callback"
    text: str
    position: int = 0
    ticket: int | None = None


def new_message_id() -> str:
    return "h" + secrets.token_urlsafe(16)


class HandoffService:
    def __init__(
        self,
        store: HandoffStore,
        hours: ServiceHours,
        keys: Keys,
        deliveries: Deliveries | None = None,
        control: ConversationControl | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store, self.hours, self.keys = store, hours, keys
        self.deliveries = deliveries or Deliveries()
        self.control = control
        self.clock = clock

    # -- the citizen's side (action server) ------------------------------------------------

    def is_open(self) -> bool:
        return self.hours.is_open(dt.datetime.fromtimestamp(self.clock(), dt.UTC))

    def request(self, sender: str, channel: str) -> Offer:
        """A citizen asked for a person: the queue during service hours, else a callback offer."""
        current = self.store.open_ticket(sender)
        if current is not None and current.state == ACTIVE:
            return Offer("active", texts.already_active(), ticket=current.id)
        if current is None and not self.is_open():
            return Offer("callback", texts.closed_hours(self.hours.describe()))
        ticket, _ = self.store.enqueue(sender, channel)
        position = self.store.position(ticket.id)
        return Offer("queued", texts.queued(position), position=position, ticket=ticket.id)

    def seal_phone_slot(self, sender: str, text: str) -> str | None:
        """The phone number in `text`, sealed for this sender (what the form's slot keeps)."""
        phone = find_phone(text)
        return self.keys.seal(_SLOT_PURPOSE, {"p": phone, "s": sender}) if phone else None

    def phone_of_slot(self, sender: str, sealed: Any) -> str | None:
        data = self.keys.unseal(_SLOT_PURPOSE, sealed, ttl=3600)
        return data.get("p") if data and data.get("s") == sender else None

    def leave_callback(self, sender: str, channel: str, phone: str) -> Callback:
        sealed = self.keys.seal(_CALLBACK_PURPOSE, {"phone": phone, "sender": sender})
        return self.store.add_callback(channel, sealed, mask_phone(phone))

    def holding(self, sender: str) -> bool:
        """True while an agent has this conversation: the channel shows no bot reply."""
        ticket = self.store.open_ticket(sender)
        return ticket is not None and ticket.state == ACTIVE

    def replay(self, sender: str) -> list[dict[str, Any]]:
        """The agents' and system messages to `sender` of the last day, as the channel sent them:
        a reconnecting or reloaded widget shows those it has not shown (by message id)."""
        since = self.clock() - REPLAY_SECONDS
        return [self._outgoing(m) for m in self.store.sender_messages(sender, since)]

    # -- the agent's side (console, in the Rasa server) ------------------------------------

    def queue(self) -> dict[str, Any]:
        waiting = self.store.tickets((QUEUED,))
        serving = self.store.tickets((ACTIVE,))
        return {
            "open": self.is_open(),
            "hours": self.hours.describe(),
            "queued": [self._ticket_view(t, position=i) for i, t in enumerate(waiting)],
            "active": [self._ticket_view(t) for t in serving],
            "callbacks": [self._callback_view(c) for c in self.store.callbacks("open")],
        }

    def _ticket(self, ticket_id: int) -> Ticket:
        ticket = self.store.ticket(ticket_id)
        if ticket is None:
            raise HandoffError("没有这个会话", status=404)
        return ticket

    async def take(self, ticket_id: int, agent: str) -> Ticket:
        ticket = await asyncio.to_thread(self.store.take, ticket_id, agent)
        if self.control is not None:
            try:
                await self.control.pause(ticket.sender)
            except Exception as exc:  # the bot would talk over the agent: undo the take
                log.error("handoff: pause failed: %s", type(exc).__name__)
                await asyncio.to_thread(self.store.end, ticket.id, agent, RETURNED, None)
                raise HandoffError("暂时无法接入这个会话，请稍后再试", status=503) from None
        await self._say(ticket, "joined", None, texts.joined(agent_label(agent)), None)
        await self._announce_positions()
        return ticket

    async def reply(
        self, ticket_id: int, agent: str, text: str, client_id: str | None
    ) -> tuple[StoredMessage, bool]:
        """Send an agent's message; (message, delivered). A repeat of client_id is not resent."""
        ticket = self._ticket(ticket_id)
        if ticket.state != ACTIVE or ticket.agent != agent:
            raise HandoffError("请先接入这个会话（或它已由其他坐席接待、已结束）")
        clean = (text or "").strip()
        if not clean:
            raise HandoffError("请输入要发送的内容", status=400)
        if len(clean) > MAX_AGENT_TEXT:
            raise HandoffError(f"一条消息最多 {MAX_AGENT_TEXT} 字", status=400)
        return await self._say(ticket, "agent", agent, clean, client_id)

    async def end(self, ticket_id: int, agent: str, close: bool, note: str | None = None) -> Ticket:
        """Hand the conversation back to the bot, or close it with a note; the bot speaks again."""
        note = redact((note or "").strip())[:MAX_NOTE] or None
        ticket = await asyncio.to_thread(
            self.store.end, ticket_id, agent, CLOSED if close else RETURNED, note
        )
        if self.control is not None:
            await self.control.resume(ticket.sender)
        kind, text = (CLOSED, texts.CLOSED) if close else (RETURNED, texts.HANDED_BACK)
        await self._say(ticket, kind, None, text, None)
        await self._announce_positions()
        return ticket

    async def conversation(self, ticket_id: int, after: float = 0.0) -> dict[str, Any]:
        """The ticket and its transcript (bot, citizen, agents), masked, newest last."""
        ticket = self._ticket(ticket_id)
        lines: list[Line] = []
        if self.control is not None:
            lines.extend(await self.control.transcript(ticket.sender))
        for message in self.store.sender_messages(ticket.sender, ticket.created - REPLAY_SECONDS):
            who = "agent" if message.kind == "agent" else "system"
            lines.append(Line(who, message.shown, message.created, message.agent))
        lines.sort(key=lambda line: line.at)
        lines = [line for line in lines if line.at > after][-300:]
        return {
            "ticket": self._ticket_view(ticket),
            "lines": [
                {"who": line.who, "text": line.text, "at": line.at, "agent": line.agent}
                for line in lines
            ],
        }

    def reveal_callback(self, callback_id: int) -> str:
        callback = self.store.callback(callback_id)
        data = self.keys.unseal(_CALLBACK_PURPOSE, callback.sealed) if callback else None
        if not data or not isinstance(data.get("phone"), str):
            raise HandoffError("没有这条回电请求", status=404)
        return data["phone"]

    def finish_callback(self, callback_id: int, agent: str) -> Callback:
        return self.store.finish_callback(callback_id, agent)

    # -- helpers ---------------------------------------------------------------------------

    async def _say(
        self, ticket: Ticket, kind: str, agent: str | None, text: str, client_id: str | None
    ) -> tuple[StoredMessage, bool]:
        draft = StoredMessage(
            id=0,
            ticket=ticket.id,
            message_id=new_message_id(),
            client_id=client_id,
            kind=kind,
            agent=agent,
            sealed=self.keys.seal(_MESSAGE_PURPOSE, {"text": text}),
            shown=redact(text),
            created=self.clock(),
            delivered=False,
        )
        stored, new = await asyncio.to_thread(self.store.add_message, draft)
        if not new:
            return stored, stored.delivered
        delivered = await self.deliveries.deliver(
            ticket.channel, ticket.sender, self._outgoing(stored)
        )
        if delivered:
            await asyncio.to_thread(self.store.mark_delivered, stored.message_id)
        return stored, delivered

    async def _announce_positions(self) -> None:
        """The queue moved: every waiting citizen's page shows its new place (no text, so text
        channels such as WeChat are not sent anything)."""
        waiting = await asyncio.to_thread(self.store.tickets, (QUEUED,))
        for position, ticket in enumerate(waiting):
            update = {"handoff": {"event": "queued", "position": position}}
            await self.deliveries.deliver(ticket.channel, ticket.sender, update)

    def _outgoing(self, message: StoredMessage) -> dict[str, Any]:
        data = self.keys.unseal(_MESSAGE_PURPOSE, message.sealed) or {}
        handoff: dict[str, Any] = {"event": "agent", "seq": message.id}
        if message.kind == "agent":
            handoff["agent"] = agent_label(message.agent)
        else:  # joined / returned / closed: what the conversation is now
            handoff |= {"event": "status", "state": STATES.get(message.kind, message.kind)}
        return {
            "text": str(data.get("text") or ""),
            "message_id": message.message_id,
            "handoff": handoff,
        }

    def _ticket_view(self, ticket: Ticket, position: int | None = None) -> dict[str, Any]:
        view: dict[str, Any] = {
            "id": ticket.id,
            "channel": CHANNEL_NAMES.get(ticket.channel, ticket.channel),
            "state": ticket.state,
            "agent": ticket.agent,
            "note": ticket.note,
            "created": ticket.created,
            "taken": ticket.taken,
            "ended": ticket.ended,
        }
        if position is not None:
            view["position"] = position
        return view

    def _callback_view(self, callback: Callback) -> dict[str, Any]:
        return {
            "id": callback.id,
            "channel": CHANNEL_NAMES.get(callback.channel, callback.channel),
            "phone": callback.masked,
            "created": callback.created,
            "state": callback.state,
        }


# A status message's kind -> the conversation's state the citizen's channel is told.
STATES = {"joined": ACTIVE, RETURNED: RETURNED, CLOSED: CLOSED}
CHANNEL_NAMES = {"socketio": "网页聊天", "wechat": "微信公众号", "rest": "REST"}


def agent_label(agent: str | None) -> str:
    """How an agent is named to citizens: 坐席 + the account name."""
    return f"（坐席 {agent}）" if agent else ""
