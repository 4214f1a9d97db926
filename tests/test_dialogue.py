"""Multi-turn conversations without Rasa: context, clarification, dates and bad input."""

from __future__ import annotations

import pytest

from tongban.dates import parse_loose_date
from tongban.dialogue import Conversation, Memory, Turn

TODAY = "2026-11-22"


@pytest.fixture()
def chat(tongban, monkeypatch):
    monkeypatch.setenv("TONGBAN_AS_OF", TODAY)
    conversation = Conversation(tongban)
    state = {"memory": Memory()}

    def say(text: str, intent: str | None = None, metadata: dict | None = None):
        reply = conversation.respond(Turn(text, intent, (), metadata or {}), state["memory"])
        state["memory"] = reply.memory
        return reply

    return say


def test_context_carries_across_turns(chat):
    first = chat("能在武汉领结婚证吗", "ask_can", {"as_of": "2022-03-25"})
    assert first.answer.item_id == "marriage_registration" and first.text.startswith("可以")
    second = chat("那离婚呢？", "inform", {"as_of": "2022-03-25"})
    assert second.answer.item_id == "divorce_registration"
    assert second.answer.at.label == "湖北省武汉市"
    assert second.memory.kind == "can"
    third = chat("我在成都", "inform", {"as_of": "2022-03-25"})
    assert third.answer.item_id == "divorce_registration"
    assert third.answer.at.label == "四川省成都市"
    assert third.text.startswith("可以")


def test_missing_place_is_asked_for_then_used(chat):
    first = chat("异地能领结婚证吗", "ask_can", {"as_of": "2024-01-15"})
    assert "请告诉我" in first.text
    second = chat("贵阳", "inform", {"as_of": "2024-01-15"})
    assert second.answer.verdict.value == "no"


def test_a_typed_date_is_remembered(chat):
    reply = chat("按2022年3月25日的政策，宜昌能领证吗", "ask_can")
    assert reply.memory.as_of == "2022-03-25"
    assert reply.answer.verdict.value == "no"
    again = chat("那武汉呢", "inform")
    assert again.answer.verdict.value == "yes"


def test_ambiguous_item_offers_buttons(chat):
    reply = chat("我想迁户口", "ask_process")
    assert reply.answer.item_id is None
    assert "哪一项" in reply.text
    assert len(reply.buttons) >= 2
    assert all(b.payload.startswith('/inform{"item":') for b in reply.buttons)
    assert {b.payload.split('"')[3] for b in reply.buttons} <= set(
        reply.answer.candidates and [c.item_id for c in reply.answer.candidates]
    )


def test_button_choice_answers_the_remembered_question(tongban, monkeypatch):
    monkeypatch.setenv("TONGBAN_AS_OF", TODAY)
    conversation = Conversation(tongban)
    first = conversation.respond(Turn("我想迁户口，要带什么材料"), Memory())
    item = first.buttons[0].payload.split('"')[3]
    second = conversation.respond(
        Turn(first.buttons[0].payload, "inform", ({"entity": "item", "value": item},)), first.memory
    )
    assert second.answer.item_id == item
    assert second.answer.kind.value == "documents"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "结婚" * 2500,
        "😀😀😀🎉",
        "How do I register my marriage in Shenzhen?",
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "'; DROP TABLE cases; --",
        "結婚登記要帶什麼證件",
        "\x00\x01\x02",
    ],
)
def test_bad_input_gets_a_sensible_answer(chat, text):
    reply = chat(text, None)
    assert reply.text.strip()
    assert "Traceback" not in reply.text
    assert "<script>" not in reply.text and "onerror" not in reply.text


def test_traditional_chinese_is_understood(chat):
    reply = chat("結婚登記要帶什麼證件", "ask_documents")
    assert reply.answer.item_id == "marriage_registration"
    assert "居民身份证" in reply.text


@pytest.mark.parametrize(
    ("text", "date"),
    [("2022年3月25日", "2022-03-25"), ("2024-01-15", "2024-01-15"), ("2023/6/1", "2023-06-01"),
     ("2022年3月", "2022-03-01"), ("２０２２年３月２５日", "2022-03-25"), ("2022年13月40日", None), ("明天", None)],
)  # fmt: skip
def test_loose_dates(text, date):
    parsed = parse_loose_date(text)
    assert (parsed.isoformat() if parsed else None) == date


def test_a_year_about_the_person_is_not_a_policy_date(chat):
    reply = chat("我2019年领的结婚证丢了，能在深圳补吗", "ask_can")
    assert reply.memory.as_of is None
    assert reply.answer.as_of.isoformat() == TODAY


@pytest.mark.parametrize("follow_up", ["户口在江西", "医保在安徽", "我户口是四川的"])
def test_a_place_only_follow_up_keeps_the_item(chat, follow_up):
    chat("能在武汉领结婚证吗", "ask_can", {"as_of": "2022-03-25"})
    reply = chat(follow_up, "inform", {"as_of": "2022-03-25"})
    assert reply.answer.item_id == "marriage_registration"
    assert reply.answer.home is not None


def test_text_cues_decide_whose_place_over_nlu_roles(tongban):
    wrong_role = ({"entity": "place", "role": "at", "value": "江西"},)
    turn = Turn("户口在江西，人在深圳，能领结婚证吗", "ask_can", wrong_role)
    reply = Conversation(tongban).respond(turn, Memory())
    assert reply.memory.home == "江西省" and reply.memory.at == "广东省深圳市"


def test_an_iso_date_in_the_text_is_read_whole(chat):
    reply = chat("按2023-03-15的政策，宜昌能领证吗", "ask_can")
    assert reply.memory.as_of == "2023-03-15"
