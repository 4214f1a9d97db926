"""Convert between rasa-sdk trackers and tongban's channel-free Turn, Memory and Reply."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from tongban.dialogue import Memory, Response, Turn
from tongban.render import plain_text

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


def send(
    response: Response, dispatcher: CollectingDispatcher, before: Memory
) -> list[dict[str, Any]]:
    """Utter the reply once: the typed Reply as the custom payload every channel renders, with
    its plain text and buttons as the fallback. Set only the slots whose value changed (every
    event stays in the tracker, and Rasa sends the whole tracker on each call)."""
    reply = response.reply
    buttons = [
        {"title": o.title, "payload": o.payload} for o in (*reply.options, *reply.follow_ups)
    ]
    dispatcher.utter_message(
        text=plain_text(reply, details=response.expanded),
        buttons=buttons or None,
        json_message={"tongban": {"reply": reply.to_dict(), "expanded": response.expanded}},
    )
    return [
        SlotSet(slot, getattr(response.memory, field))
        for field, slot in SLOTS.items()
        if getattr(response.memory, field) != getattr(before, field)
    ]
