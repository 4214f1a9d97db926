"""The Rasa actions against tracker fixtures: thin wrappers that answer from tongban."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.answer import ActionAnswer, ActionFallback

FIXTURES = Path(__file__).parent / "data" / "trackers"


def tracker(name: str, **changes) -> Tracker:
    state = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    state.update(changes)
    return Tracker.from_dict(state)


MEMORY_SLOTS = ("item", "home", "at", "question_kind", "as_of")


def run(action, tracker_: Tracker):
    """The messages, and the memory slots as they stand after the action's events."""
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, tracker_, {}))
    slots = {name: tracker_.get_slot(name) for name in MEMORY_SLOTS}
    slots.update({e["name"]: e["value"] for e in events if e["event"] == "slot"})
    return dispatcher.messages, slots


def test_only_changed_slots_are_set(monkeypatch):
    monkeypatch.setenv("TONGBAN_AS_OF", "2026-11-22")
    state = tracker("follow_up_divorce")
    events = asyncio.run(ActionAnswer().run(CollectingDispatcher(), state, {}))
    changed = {e["name"] for e in events if e["event"] == "slot"}
    assert changed, "the new item is remembered"
    assert all(state.get_slot(e["name"]) != e["value"] for e in events if e["event"] == "slot"), (
        "a slot set to the value it already has only makes the tracker longer"
    )


def test_answer_sets_slots_and_cites_sources(monkeypatch):
    monkeypatch.setenv("TONGBAN_AS_OF", "2026-11-22")
    messages, slots = run(ActionAnswer(), tracker("marriage_in_shenzhen"))
    assert len(messages) == 1
    text = messages[0]["text"]
    assert text.startswith("可以")
    assert "居民身份证" in text and "来源" in text and "国务院令第804号" in text
    assert slots == {
        "item": "marriage_registration",
        "home": "江西省",
        "at": "广东省深圳市",
        "question_kind": "documents",
        "as_of": None,
    }
    assert messages[0]["buttons"], "follow-up questions are offered as buttons"


def test_server_date_changes_the_answer(monkeypatch):
    monkeypatch.setenv("TONGBAN_AS_OF", "2022-03-25")
    messages, _ = run(ActionAnswer(), tracker("marriage_in_shenzhen"))
    assert "户口簿" in messages[0]["text"] and "居住证" in messages[0]["text"]


def test_follow_up_keeps_places_and_kind_and_uses_metadata_date(monkeypatch):
    monkeypatch.setenv("TONGBAN_AS_OF", "2026-11-22")
    messages, slots = run(ActionAnswer(), tracker("follow_up_divorce"))
    # On 2022-03-25 (metadata) divorce was not yet possible in Wuhan: the first pilot covered
    # divorce in five provinces only.
    assert slots["item"] == "divorce_registration"
    assert slots["at"] == "湖北省武汉市" and slots["question_kind"] == "can"
    assert slots["as_of"] is None, "metadata dates apply to one message only"
    assert "不在" in messages[0]["text"]


def test_metadata_date_is_ignored_when_malformed(monkeypatch):
    monkeypatch.setenv("TONGBAN_AS_OF", "2026-11-22")
    state = tracker("follow_up_divorce")
    state.events[-1]["metadata"] = {"as_of": "next tuesday"}
    messages, _ = run(ActionAnswer(), state)
    assert messages[0]["text"].startswith("可以")


@pytest.mark.parametrize("text", ["asdkjh qwe", "😀😀😀", ""])
def test_fallback_apologises_and_offers_the_hotline(text):
    state = tracker(
        "marriage_in_shenzhen",
        latest_message={"text": text, "intent": {"name": "nlu_fallback"}, "entities": []},
    )
    messages, _ = run(ActionFallback(), state)
    assert "抱歉" in messages[0]["text"] and "12345" in messages[0]["text"]
    assert messages[0]["buttons"]


def test_fallback_still_answers_when_the_text_names_an_item():
    state = tracker(
        "marriage_in_shenzhen",
        latest_message={"text": "结婚登记", "intent": {"name": "nlu_fallback"}, "entities": []},
    )
    messages, slots = run(ActionFallback(), state)
    assert slots["item"] == "marriage_registration"
    assert "抱歉" not in messages[0]["text"]
