"""The case-status form: collect the case number and last 4 digits, look up, then forget them.

The tracker store persists every slot, so the slots hold sealed values (Keys.seal, bound to the
sender), never the number or the last 4 as typed.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.runtime import CASES
from actions.tracker import latest_metadata
from tongban.cases import replies
from tongban.cases.model import find_case_id, find_last4, normalise_case_id, normalise_last4
from tongban.security.keys import looks_sealed

FORM = "case_status_form"
# Intents of messages that answer the form's question, however badly.
ANSWER_INTENTS = frozenset({"case_status", "case_history", "affirm", "nlu_fallback"})
# The form's slots hold sealed values only (tongban/cases/tokens.py), never what was typed.
CASE_SLOT, LAST4_SLOT, VERIFIED_SLOT = "case_number", "verification", "case_verified"
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
        return _extract(tracker, CASE_SLOT, find_case_id, min_alnum=2)

    async def extract_verification(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict
    ) -> dict[str, Any]:
        return _extract(tracker, LAST4_SLOT, find_last4, min_alnum=1)

    def validate_case_number(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict
    ) -> dict[str, Any]:
        sealed = _seal(CASE_SLOT, value, tracker, normalise_case_id)
        if sealed is None and not looks_sealed(value):
            dispatcher.utter_message(text=replies.BAD_CASE_NUMBER)
        return {CASE_SLOT: sealed}

    def validate_verification(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict
    ) -> dict[str, Any]:
        sealed = _seal(LAST4_SLOT, value, tracker, normalise_last4)
        if sealed is None and not looks_sealed(value):
            dispatcher.utter_message(text=replies.BAD_LAST4)
        return {LAST4_SLOT: sealed}


def _extract(
    tracker: Tracker, slot: str, find: Callable[[str], str | None], min_alnum: int
) -> dict[str, Any]:
    """The slot's value in this message: one found in the text ("办件 SC…", "后四位0032"), else,
    when the form asked for this slot, the whole message as an attempt (validated next).

    An attempt is anything with enough letters and digits, or any answer the NLU reads as about
    the lookup itself ("帮我查办件", "0"): it gets the format hint and the question again, never
    silence. Other messages ("不查了", a question about an item) leave the form to the rules."""
    text = _text(tracker)
    found = find(text)
    if found:
        return {slot: found}
    intent = _intent(tracker)
    asked = tracker.get_slot("requested_slot") == slot
    attempt = _alnum_count(text) >= min_alnum or intent in ANSWER_INTENTS
    return {slot: text} if asked and intent not in STOP_INTENTS and attempt else {}


def _seal(
    slot: str, value: Any, tracker: Tracker, normalise: Callable[[str], str | None]
) -> str | None:
    """What the slot keeps: the normalised value sealed for this sender, or None if invalid.

    A value sealed earlier (Rasa hands prefilled slots back for validation when the form starts
    again) passes through while it is valid for this sender; an expired or foreign one is
    dropped silently, and the form asks again."""
    if looks_sealed(value):
        return value if CASES.tokens.form_value(slot, value, tracker.sender_id) else None
    normal = normalise(str(value or ""))
    return CASES.tokens.seal_form_value(slot, normal, tracker.sender_id) if normal else None


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
    """Look the case up, answer, and clear both values from the slots whatever the outcome.

    On success the slot case_verified gets a sealed token (case, sender, session) that lets
    action_case_history show the record for 15 minutes; any other outcome clears it."""

    def name(self) -> str:
        return "action_case_lookup"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict
    ) -> list[dict[str, Any]]:
        sender = tracker.sender_id
        case_id = CASES.tokens.form_value(CASE_SLOT, tracker.get_slot(CASE_SLOT), sender)
        last4 = CASES.tokens.form_value(LAST4_SLOT, tracker.get_slot(LAST4_SLOT), sender)
        cleared = [SlotSet(CASE_SLOT, None), SlotSet(LAST4_SLOT, None)]
        if case_id is None or last4 is None:
            dispatcher.utter_message(text=replies.FORM_EXPIRED)
            return [*cleared, SlotSet(VERIFIED_SLOT, None)]
        client = latest_metadata(tracker).get("client")
        client = client if isinstance(client, str) and client else None
        result = CASES.lookup(sender, case_id, last4, client=client)
        buttons = [{"title": "查看办理记录", "payload": "case:history"}] if result.record else None
        dispatcher.utter_message(text=replies.outcome_text(result), buttons=buttons)
        verified = (
            CASES.verified_token(result.record, sender, session_started(tracker))
            if result.record
            else None
        )
        return [*cleared, SlotSet(VERIFIED_SLOT, verified)]


class ActionCaseHistory(Action):
    """The history of the case this sender verified in this session in the last 15 minutes."""

    def name(self) -> str:
        return "action_case_history"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict
    ) -> list[dict[str, Any]]:
        record = CASES.verified_record(
            tracker.get_slot(VERIFIED_SLOT), tracker.sender_id, session_started(tracker)
        )
        dispatcher.utter_message(text=replies.history(record) if record else replies.NO_HISTORY)
        return []


def session_started(tracker: Tracker) -> float:
    """When the tracker's current session started (0 if it never did): a verified token names
    it, so a new session ends the token even though the slots are carried over."""
    for event in reversed(tracker.events):
        if event.get("event") == "session_started":
            return float(event.get("timestamp") or 0)
    return 0.0
