"""Case status questions: where to follow an application (answered from the knowledge base)."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.runtime import TONGBAN
from actions.tracker import latest_metadata
from tongban.answers import case_status_help
from tongban.dates import message_as_of
from tongban.dialogue import chat_text


class ActionCaseStatus(Action):
    def name(self) -> str:
        return "action_case_status"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict
    ) -> list[dict[str, Any]]:
        answer = case_status_help(TONGBAN.kb, message_as_of(latest_metadata(tracker)))
        dispatcher.utter_message(text=chat_text(answer))
        return []
