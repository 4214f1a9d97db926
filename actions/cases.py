"""The case-status form: collect the case number and last 4 digits, look up, then forget them."""

from __future__ import annotations

import unicodedata
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.runtime import CASES
from tongban.cases import replies
from tongban.cases.model import find_case_id, find_last4, normalise_case_id, normalise_last4

FORM = "case_status_form"
STOP_INTENTS = {
    "deny",
    "goodbye",
    "human_handoff",
    "thanks",
    "greet",
    "bot_challenge",
    "out_of_scope",
}


def _text(tracker: Tracker) -> str:
    return unicodedata.normalize("NFKC", (tracker.latest_message or {}).get("text") or "")


def _intent(tracker: Tracker) -> str:
    return ((tracker.latest_message or {}).get("intent") or {}).get("name") or ""


def _alnum_count(text: str) -> int:
    return sum(ch.isascii() and ch.isalnum() for ch in text)


class ValidateCaseStatusForm(FormValidationAction):
    def name(self) -> str:
        return "validate_case_status_form"

    async def extract_case_number(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict
    ) -> dict[str, Any]:
        text = _text(tracker)
        found = find_case_id(text)
        if found:
            return {"case_number": found}
        asked = tracker.get_slot("requested_slot") == "case_number"
        # Anything with enough letters and digits is an attempt at a number (validated below);
        # other messages ("不查了") leave the form to the rules.
        if asked and _intent(tracker) not in STOP_INTENTS and _alnum_count(text) >= 2:
            return {"case_number": text}
        return {}

    async def extract_verification(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict
    ) -> dict[str, Any]:
        text = _text(tracker)
        cued = find_last4(text)
        if cued:
            return {"verification": cued}
        asked = tracker.get_slot("requested_slot") == "verification"
        if asked and _intent(tracker) not in STOP_INTENTS and _alnum_count(text) >= 1:
            return {"verification": text}
        return {}

    def validate_case_number(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict
    ) -> dict[str, Any]:
        case_id = normalise_case_id(str(value or ""))
        if case_id is None:
            dispatcher.utter_message(text=replies.BAD_CASE_NUMBER)
        return {"case_number": case_id}

    def validate_verification(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict
    ) -> dict[str, Any]:
        last4 = normalise_last4(str(value or ""))
        if last4 is None:
            dispatcher.utter_message(text=replies.BAD_LAST4)
        return {"verification": last4}


class ActionAskCaseNumber(Action):
    def name(self) -> str:
        return "action_ask_case_number"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict
    ) -> list[dict[str, Any]]:
        dispatcher.utter_message(text=replies.ASK_CASE_NUMBER)
        return []


class ActionAskVerification(Action):
    def name(self) -> str:
        return "action_ask_verification"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict
    ) -> list[dict[str, Any]]:
        dispatcher.utter_message(text=replies.ASK_LAST4)
        return []


class ActionCaseLookup(Action):
    """Look the case up, answer, and clear both values from the slots whatever the outcome."""

    def name(self) -> str:
        return "action_case_lookup"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict
    ) -> list[dict[str, Any]]:
        result = CASES.lookup(
            tracker.sender_id, tracker.get_slot("case_number"), tracker.get_slot("verification")
        )
        buttons = [{"title": "查看办理记录", "payload": "/case_history"}] if result.record else None
        dispatcher.utter_message(text=replies.outcome_text(result), buttons=buttons)
        return [SlotSet("case_number", None), SlotSet("verification", None)]


class ActionCaseHistory(Action):
    def name(self) -> str:
        return "action_case_history"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict
    ) -> list[dict[str, Any]]:
        record = CASES.verified_record(tracker.sender_id)
        dispatcher.utter_message(text=replies.history(record) if record else replies.NO_HISTORY)
        return []
