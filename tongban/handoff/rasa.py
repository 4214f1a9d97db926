"""The bot's side of a handoff inside the Rasa server: pause and resume a conversation, and read
its transcript, the way Rasa's own HTTP API does it (POST /conversations/<id>/tracker/events with
{"event": "pause"} / {"event": "resume"}): under the conversation's lock, appended to its tracker
and saved. While paused, Rasa logs each user message but predicts no action: the bot is silent.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa.shared.core.events import BotUttered, ConversationPaused, ConversationResumed, UserUttered

from tongban.handoff.service import ConversationControl, Line
from tongban.security.redact import redact

log = logging.getLogger(__name__)

MAX_LINES = 200


class RasaControl(ConversationControl):
    """`agent_of()` gives Rasa's Agent (request.app.ctx.agent), read when needed: the model and
    its stores are loaded after the channels are built."""

    def __init__(self, agent_of: Any) -> None:
        self._agent_of = agent_of

    def _agent(self) -> Any:
        agent = self._agent_of()
        if agent is None or getattr(agent, "tracker_store", None) is None:
            raise RuntimeError("Rasa's agent is not ready")
        return agent

    async def _append(self, sender: str, event: Any) -> None:
        agent = self._agent()
        async with agent.lock_store.lock(sender):
            tracker = await agent.tracker_store.get_or_create_tracker(sender)
            tracker.update(event)
            await agent.tracker_store.save(tracker)

    async def pause(self, sender: str) -> None:
        await self._append(sender, ConversationPaused())

    async def resume(self, sender: str) -> None:
        await self._append(sender, ConversationResumed())

    async def transcript(self, sender: str) -> list[Line]:
        tracker = await self._agent().tracker_store.retrieve(sender)
        if tracker is None:
            return []
        lines: list[Line] = []
        for event in tracker.events:
            text = getattr(event, "text", None)
            if not isinstance(text, str) or not text.strip():
                continue
            if isinstance(event, UserUttered):
                if text.startswith("/"):  # buttons' commands (/greet), not the citizen's words
                    continue
                lines.append(Line("citizen", redact(text), float(event.timestamp)))
            elif isinstance(event, BotUttered):
                lines.append(Line("bot", redact(text), float(event.timestamp)))
        return lines[-MAX_LINES:]
