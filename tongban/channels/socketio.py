"""Rasa's socket.io channel, fixed for the library versions Tongban runs on.

Same name ("socketio"), options, events and behaviour as `rasa.core.channels.socketio.SocketIOInput`
(registered in credentials.yml as `tongban.channels.socketio.SocketIOInput`), with two fixes:

1. With `session_persistence: true`, Rasa 3.6.21 calls `sio.enter_room(...)` without `await`; in
   python-socketio 5.18 that method is a coroutine, so the client never joined its session's room
   and no bot message ever reached the browser. `session_request` here awaits it.
2. Sanic 21.12's WebSocket implementation passes coroutines to `asyncio.wait`, which Python 3.11
   refuses, so every upgrade to WebSocket fails with a traceback. The server here does not offer
   the upgrade: clients stay on HTTP long-polling, which works. When Sanic is upgraded, drop this.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.socketio import SocketIOInput as RasaSocketIOInput
from sanic import Blueprint

logger = logging.getLogger(__name__)

# A session id is the conversation's sender id and, for the web chat, a bearer secret: the page
# gets a random one (uuid4 hex) and keeps it for the browser session.
SESSION_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")


class SocketIOInput(RasaSocketIOInput):
    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        socketio_webhook = super().blueprint(on_new_message)
        sio = self.sio
        assert sio is not None  # set by the parent's blueprint()
        sio.eio.allow_upgrades = False

        @sio.on("session_request", namespace=self.namespace)
        async def session_request(sid: str, data: dict | None) -> None:
            data = data if isinstance(data, dict) else {}
            session_id = data.get("session_id")
            if not isinstance(session_id, str) or not SESSION_ID.fullmatch(session_id):
                data["session_id"] = uuid.uuid4().hex
            if self.session_persistence:
                await sio.enter_room(sid, data["session_id"], namespace=self.namespace)
            await sio.emit(
                "session_confirm", data["session_id"], room=sid, namespace=self.namespace
            )
            logger.debug(f"User {sid} connected to socketIO endpoint.")

        return socketio_webhook
