"""The handoff's hooks in the channels: how each delivers an agent's message, whether the bot is
held silent for a conversation, and what a reconnecting widget missed.

Kept here so each channel adds only a line or two: socket.io (tongban/channels/socketio.py) and
WeChat (tongban/channels/wechat.py) call these.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from tongban.handoff import hub
from tongban.handoff.rasa import RasaControl

log = logging.getLogger(__name__)


def install_control(blueprint: Any) -> None:
    """Once the Rasa server runs, the handoff pauses and resumes its conversations."""

    @blueprint.listener("after_server_start")
    async def handoff_control(app: Any, _loop: Any) -> None:
        service = hub()
        if service.control is None:
            service.control = RasaControl(lambda: getattr(app.ctx, "agent", None))


async def held(sender: str) -> bool:
    """True while an agent has the conversation (the bot says nothing, not even "no answer")."""
    try:
        return await asyncio.to_thread(hub().holding, sender)
    except Exception as exc:
        log.error("handoff: state not readable: %s", type(exc).__name__)
        return False


# ---------------------------------------------------------------- socket.io --------------------


def register_socketio(blueprint: Any, sio: Any, event: str, namespace: str | None) -> None:
    """Agents' messages go to the session's room (every tab of that conversation), as bot_uttered
    with `handoff`; one that reaches no tab is replayed when the widget comes back."""

    async def deliver(session_id: str, message: dict[str, Any]) -> bool:
        await sio.emit(event, message, room=session_id, namespace=namespace)
        return True

    hub().deliveries.register("socketio", deliver)
    install_control(blueprint)


async def replay_socketio(
    sio: Any, event: str, sid: str, session_id: str, namespace: str | None
) -> None:
    """After session_confirm: the agents' messages of this conversation, again; the page shows
    only those it has not shown (by message_id), so nothing is lost or shown twice."""
    try:
        messages = await asyncio.to_thread(hub().replay, session_id)
    except Exception as exc:
        log.error("handoff: replay failed: %s", type(exc).__name__)
        return
    for message in messages:
        await sio.emit(event, message, room=sid, namespace=namespace)


# ---------------------------------------------------------------- WeChat -----------------------


def register_wechat(blueprint: Any, channel: Any) -> None:
    """Agents' messages go out through the customer-service API client of the WeChat channel,
    within Tencent's quota of messages after the user's last one."""
    from tongban.wechat.replies import split_bytes

    async def deliver(openid: str, message: dict[str, Any]) -> bool:
        if not message.get("text"):
            return False  # a queue-position update: only the web page shows those
        for part in split_bytes(str(message["text"])):
            if not await channel.quota.spend(openid):
                log.warning("handoff: WeChat quota used up; agent message not pushed")
                return False
            if not await channel.customer_service.send_text(openid, part):
                return False
        return True

    hub().deliveries.register("wechat", deliver)
    install_control(blueprint)
