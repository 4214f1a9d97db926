"""Asking for a person: join the agents' queue during service hours, otherwise 12345 and a form
that takes a phone number for a callback. The work is in tongban.handoff; these stay thin."""

from __future__ import annotations

import unicodedata
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from tongban.handoff import hub, texts

FORM = "callback_form"
PHONE_SLOT = "callback_phone"
# Messages that leave the callback form to the rules instead of being read as a number.
LEAVE_INTENTS = frozenset(
    {"deny", "ask_can", "ask_documents", "ask_process", "ask_regions", "ask_time_fees",
     "ask_department", "ask_overview"}
)  # fmt: skip


def _channel(tracker: Tracker) -> str:
    return tracker.get_latest_input_channel() or "rest"


def _intent(tracker: Tracker) -> str:
    return ((tracker.latest_message or {}).get("intent") or {}).get("name") or ""


class ActionHandoff(Action):
    def name(self) -> str:
        return "action_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict
    ) -> list[dict[str, Any]]:
        try:
            offer = hub().request(tracker.sender_id, _channel(tracker))
        except Exception:  # the queue's database is unavailable: never a dead end
            dispatcher.utter_message(text=texts.NO_HANDOFF, buttons=_call_button())
            return []
        handoff = {"event": offer.kind, "position": offer.position}
        if offer.kind == "callback":
            dispatcher.utter_message(
                text=offer.text, buttons=_call_button(), json_message={"handoff": handoff}
            )
            return [SlotSet(PHONE_SLOT, None), FollowupAction(FORM)]
        dispatcher.utter_message(text=offer.text, json_message={"handoff": handoff})
        return []


def _call_button() -> list[dict[str, str]]:
    return [{"title": f"拨打 {texts.HOTLINE}", "payload": f"tel:{texts.HOTLINE}"}]


class ValidateCallbackForm(FormValidationAction):
    def name(self) -> str:
        return "validate_callback_form"

    async def extract_callback_phone(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict
    ) -> dict[str, Any]:
        if tracker.get_slot("requested_slot") != PHONE_SLOT or _intent(tracker) in LEAVE_INTENTS:
            return {}
        text = unicodedata.normalize("NFKC", (tracker.latest_message or {}).get("text") or "")
        # Anything else answers "your number?": a number is sealed next, the rest re-asked.
        return {PHONE_SLOT: hub().seal_phone_slot(tracker.sender_id, text) or ""}

    def validate_callback_phone(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict
    ) -> dict[str, Any]:
        if hub().phone_of_slot(tracker.sender_id, value):
            return {PHONE_SLOT: value}
        dispatcher.utter_message(text=texts.BAD_PHONE)
        return {PHONE_SLOT: None}


class ActionAskCallbackPhone(Action):
    def name(self) -> str:
        return "action_ask_callback_phone"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict
    ) -> list[dict[str, Any]]:
        dispatcher.utter_message(text=texts.ASK_PHONE)
        return []


class ActionCallbackRequest(Action):
    """Record the callback (sealed number, masked copy for agents) and clear the slot."""

    def name(self) -> str:
        return "action_callback_request"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict
    ) -> list[dict[str, Any]]:
        service = hub()
        phone = service.phone_of_slot(tracker.sender_id, tracker.get_slot(PHONE_SLOT))
        if phone is None:
            dispatcher.utter_message(text=texts.NO_HANDOFF, buttons=_call_button())
            return [SlotSet(PHONE_SLOT, None)]
        try:
            callback = service.leave_callback(tracker.sender_id, _channel(tracker), phone)
        except Exception:
            dispatcher.utter_message(text=texts.NO_HANDOFF, buttons=_call_button())
            return [SlotSet(PHONE_SLOT, None)]
        dispatcher.utter_message(text=texts.callback_saved(callback.masked))
        return [SlotSet(PHONE_SLOT, None)]


class ActionCallbackDeclined(Action):
    def name(self) -> str:
        return "action_callback_declined"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict
    ) -> list[dict[str, Any]]:
        dispatcher.utter_message(text=texts.DECLINED, buttons=_call_button())
        return [SlotSet(PHONE_SLOT, None)]
