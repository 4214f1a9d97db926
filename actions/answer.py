"""Answer questions about items, and handle low-confidence messages, through `tongban`."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.runtime import CONVERSATION
from actions.tracker import memory_of, send, turn_of
from tongban.dialogue import Turn


class ActionAnswer(Action):
    def name(self) -> str:
        return "action_answer"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict
    ) -> list[dict[str, Any]]:
        memory = memory_of(tracker)
        response = CONVERSATION.respond(turn_of(tracker), memory)
        return send(response, dispatcher, memory)


class ActionFallback(Action):
    """Low NLU confidence: still try the knowledge base's own matching, else apologise."""

    def name(self) -> str:
        return "action_fallback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict
    ) -> list[dict[str, Any]]:
        turn, memory = turn_of(tracker), memory_of(tracker)
        response = CONVERSATION.fallback(
            Turn(turn.text, None, turn.entities, turn.metadata), memory
        )
        return send(response, dispatcher, memory)
