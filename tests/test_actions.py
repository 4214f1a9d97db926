"""The Rasa actions against tracker fixtures: thin wrappers that answer from tongban."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.answer import ActionAnswer, ActionFallback
from tongban.cases import replies as case_replies
from tongban.reply import Reply

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
    assert "居民身份证" in text and "详情" in text
    # the typed Reply travels as the custom payload, with its sources
    reply = Reply.from_dict(messages[0]["custom"]["tongban"]["reply"])
    assert reply.meta.item == "marriage_registration" and reply.meta.eligibility.value == "yes"
    assert any("国务院令第804号" in s.citation() for s in reply.sources)
    assert messages[0]["custom"]["tongban"]["expanded"] is False
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


# -- case lookups: sealed slots in, a sealed verified token out, history only for its owner ------

SESSION = 1_700_000_000.5


@pytest.fixture()
def cases(tmp_path, monkeypatch):
    import actions.cases
    from tests.test_cases import make_service

    service = make_service(tmp_path / "cases.db")
    monkeypatch.setattr(actions.cases, "CASES", service)
    return service


def case_tracker(sender="alice", slots=None, events=None, client=None, text="0032") -> Tracker:
    user = {"event": "user", "text": text, "metadata": {"client": client} if client else {}}
    return Tracker(
        sender_id=sender,
        slots={"case_number": None, "verification": None, "case_verified": None} | (slots or {}),
        latest_message={"text": text, "intent": {"name": "case_status"}, "entities": []},
        events=events if events is not None else [
            {"event": "session_started", "timestamp": SESSION}, user,
        ],
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="case_status_form",
    )  # fmt: skip


def sealed_form(cases, case_id="SC2025110300342", last4="0032", sender="alice") -> dict:
    return {
        "case_number": cases.tokens.seal_form_value("case_number", case_id, sender),
        "verification": cases.tokens.seal_form_value("verification", last4, sender),
    }


def run_case_action(action, tracker_: Tracker):
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, tracker_, {}))
    return dispatcher.messages, {e["name"]: e["value"] for e in events if e["event"] == "slot"}


def lookup(cases, **tracker_args):
    from actions.cases import ActionCaseLookup

    state = case_tracker(slots=sealed_form(cases, **tracker_args.pop("form", {})), **tracker_args)
    return run_case_action(ActionCaseLookup(), state)


def history(sender="alice", token=None, events=None):
    from actions.cases import ActionCaseHistory

    state = case_tracker(sender, {"case_verified": token}, events)
    messages, _ = run_case_action(ActionCaseHistory(), state)
    return messages[0]["text"]


def test_form_then_lookup_in_one_message_keeps_nothing_plain(cases):
    from actions.cases import ActionCaseLookup
    from tests.test_cases import _run_form

    slots, _ = _run_form("查询办件 SC2025110300342 身份证后四位0032", None, "case_status")
    slots = {**slots, "case_verified": None}
    messages, events = run_case_action(ActionCaseLookup(), case_tracker("form-user", slots))
    assert "户口迁移（夫妻投靠）" in messages[0]["text"] and messages[0]["buttons"]
    assert events["case_number"] is None and events["verification"] is None
    raw = json.dumps([slots, events])
    assert "SC2025110300342" not in raw and "0032" not in raw and "7788" not in raw


def test_lookup_answers_clears_the_form_and_leaves_a_sealed_token(cases):
    from tongban.security.keys import looks_sealed

    messages, slots = lookup(cases)
    assert "SC2********0342" in messages[0]["text"]
    assert messages[0]["buttons"] == [{"title": "查看办理记录", "payload": "case:history"}]
    assert slots["case_number"] is None and slots["verification"] is None
    assert looks_sealed(slots["case_verified"])
    assert "SC2025110300342" not in slots["case_verified"]


def test_lookup_refuses_values_sealed_for_another_sender(cases):
    from actions.cases import ActionCaseLookup

    state = case_tracker("bob", sealed_form(cases, sender="alice"))
    messages, slots = run_case_action(ActionCaseLookup(), state)
    assert messages[0]["text"] == case_replies.FORM_EXPIRED
    assert slots == {"case_number": None, "verification": None, "case_verified": None}


def test_lookup_passes_the_client_key_to_the_limits(cases):
    client = "a" * 32
    for i in range(20):
        form = {"case_id": f"ZZ2099{i:09d}", "sender": f"s{i}"}
        messages, _ = lookup(cases, sender=f"s{i}", form=form, client=client)
        assert "没有查到" in messages[0]["text"]
    messages, slots = lookup(cases, sender="new", form={"sender": "new"}, client=client)
    assert "验证失败次数过多" in messages[0]["text"] and slots["case_verified"] is None
    messages, _ = lookup(cases, sender="new", form={"sender": "new"}, client="b" * 32)
    assert "户口迁移" in messages[0]["text"]


def test_history_for_the_verifier_for_15_minutes(cases):
    _, slots = lookup(cases)
    token = slots["case_verified"]
    assert "网上申请已受理" in history(token=token)
    cases.clock.now += 899
    assert "网上申请已受理" in history(token=token)
    cases.clock.now += 2
    assert history(token=token) == case_replies.NO_HISTORY


def test_history_refused_for_another_sender(cases):
    _, slots = lookup(cases)
    assert history("mallory", slots["case_verified"]) == case_replies.NO_HISTORY


def test_history_refused_after_a_new_session_or_restart(cases):
    _, slots = lookup(cases)
    token = slots["case_verified"]
    # carry_over_slots_to_new_session keeps the slot, but the token names the old session.
    new_session = [
        {"event": "session_started", "timestamp": SESSION},
        {"event": "session_started", "timestamp": SESSION + 60},
        {"event": "slot", "name": "case_verified", "value": token},
    ]
    assert history(token=token, events=new_session) == case_replies.NO_HISTORY
    restarted = [{"event": "session_started", "timestamp": SESSION}, {"event": "restart"},
                 {"event": "session_started", "timestamp": SESSION + 5}]  # fmt: skip
    assert history(token=token, events=restarted) == case_replies.NO_HISTORY
    assert history(token=None) == case_replies.NO_HISTORY, "/restart resets the slot itself"


def test_history_token_also_expires_in_real_time(cases, monkeypatch):
    import time

    _, slots = lookup(cases)
    later = time.time() + 901
    monkeypatch.setattr("cryptography.fernet.time.time", lambda: later)
    assert history(token=slots["case_verified"]) == case_replies.NO_HISTORY


def test_a_failed_lookup_ends_an_earlier_verification(cases):
    lookup(cases)
    messages, second = lookup(cases, form={"last4": "9999"})
    assert "没有查到" in messages[0]["text"] and second["case_verified"] is None
