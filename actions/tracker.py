"""Convert between rasa-sdk trackers and tongban's channel-free Turn, Memory and Reply."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from tongban.dialogue import Memory, Reply, Turn

SLOTS = {"item": "item", "home": "home", "at": "at", "kind": "question_kind", "as_of": "as_of"}


def turn_of(tracker: Tracker) -> Turn:
    latest = tracker.latest_message or {}
    intent = (latest.get("intent") or {}).get("name")
    return Turn(
        text=latest.get("text") or "",
        intent=intent,
        entities=tuple(latest.get("entities") or ()),
        metadata=latest_metadata(tracker),
    )


def latest_metadata(tracker: Tracker) -> dict[str, Any]:
    """The metadata of the newest user message (channels put `as_of` there)."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return event.get("metadata") or {}
    return {}


def memory_of(tracker: Tracker) -> Memory:
    return Memory(**{field: tracker.get_slot(slot) for field, slot in SLOTS.items()})


def send(reply: Reply, dispatcher: CollectingDispatcher, before: Memory) -> list[dict[str, Any]]:
    """Utter the reply; set only the slots whose value changed (every event stays in the
    tracker, and Rasa sends the whole tracker to the action server on each call)."""
    buttons = [{"title": b.title, "payload": b.payload} for b in reply.buttons]
    dispatcher.utter_message(text=reply.text, buttons=buttons or None)
    return [
        SlotSet(slot, getattr(reply.memory, field))
        for field, slot in SLOTS.items()
        if getattr(reply.memory, field) != getattr(before, field)
    ]
