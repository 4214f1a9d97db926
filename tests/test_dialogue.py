"""Multi-turn conversations without Rasa: context, clarification, dates and bad input."""

from __future__ import annotations

import pytest

from tongban.dates import parse_loose_date
from tongban.dialogue import Conversation, Memory, Response, Turn
from tongban.render import plain_text

TODAY = "2026-11-22"


@pytest.fixture()
def chat(tongban, monkeypatch):
    monkeypatch.setenv("TONGBAN_AS_OF", TODAY)
    conversation = Conversation(tongban)
    state = {"memory": Memory()}

    def say(text: str, intent: str | None = None, metadata: dict | None = None) -> Response:
        response = conversation.respond(Turn(text, intent, (), metadata or {}), state["memory"])
        state["memory"] = response.memory
        return response

    return say


def shown(response: Response) -> str:
    return plain_text(response.reply, details=True)


def test_context_carries_across_turns(chat):
    first = chat("能在武汉领结婚证吗", "ask_can", {"as_of": "2022-03-25"})
    assert first.reply.meta.item == "marriage_registration" and first.reply.lead.startswith("可以")
    second = chat("那离婚呢？", "inform", {"as_of": "2022-03-25"})
    assert second.reply.meta.item == "divorce_registration"
    assert second.reply.meta.at == "湖北省武汉市"
    assert second.memory.kind == "can"
    third = chat("我在成都", "inform", {"as_of": "2022-03-25"})
    assert third.reply.meta.item == "divorce_registration"
    assert third.reply.meta.at == "四川省成都市"
    assert third.reply.lead.startswith("可以")


def test_missing_place_is_asked_for_then_used(chat):
    first = chat("异地能领结婚证吗", "ask_can", {"as_of": "2024-01-15"})
    assert "请告诉我" in first.reply.lead
    assert first.reply.meta.eligibility.value == "not_confirmed"
    second = chat("贵阳", "inform", {"as_of": "2024-01-15"})
    assert second.reply.meta.eligibility.value == "no"


def test_a_typed_date_is_remembered(chat):
    reply = chat("按2022年3月25日的政策，宜昌能领证吗", "ask_can")
    assert reply.memory.as_of == "2022-03-25"
    assert reply.reply.meta.eligibility.value == "no"
    again = chat("那武汉呢", "inform")
    assert again.reply.meta.eligibility.value == "yes"


def test_ambiguous_item_offers_buttons(chat):
    reply = chat("我想迁户口", "ask_process").reply
    assert reply.meta.item is None
    assert "哪一项" in reply.lead
    assert 2 <= len(reply.options) <= 4
    # Tongban's own payloads, no Rasa syntax; short titles that fit a button
    assert all(o.payload.startswith("item:") for o in reply.options)
    assert all(len(o.title) <= 12 for o in reply.options)


def test_button_choice_answers_the_remembered_question(tongban, monkeypatch):
    monkeypatch.setenv("TONGBAN_AS_OF", TODAY)
    conversation = Conversation(tongban)
    first = conversation.respond(Turn("我想迁户口，要带什么材料"), Memory())
    item = first.reply.options[0].payload.removeprefix("item:")
    second = conversation.respond(
        Turn("/inform", "inform", ({"entity": "item", "value": item},)), first.memory
    )
    assert second.reply.meta.item == item
    assert second.reply.meta.kind == "documents"


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
    output = shown(chat(text, None))
    assert output.strip()
    assert "Traceback" not in output
    assert "<script>" not in output and "onerror" not in output


def test_traditional_chinese_is_understood(chat):
    reply = chat("結婚登記要帶什麼證件", "ask_documents")
    assert reply.reply.meta.item == "marriage_registration"
    assert "居民身份证" in reply.reply.body.items[0]


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
    assert reply.reply.meta.as_of == TODAY


@pytest.mark.parametrize("follow_up", ["户口在江西", "医保在安徽", "我户口是四川的"])
def test_a_place_only_follow_up_keeps_the_item(chat, follow_up):
    chat("能在武汉领结婚证吗", "ask_can", {"as_of": "2022-03-25"})
    reply = chat(follow_up, "inform", {"as_of": "2022-03-25"})
    assert reply.reply.meta.item == "marriage_registration"
    assert reply.reply.meta.home is not None


def test_text_cues_decide_whose_place_over_nlu_roles(tongban):
    wrong_role = ({"entity": "place", "role": "at", "value": "江西"},)
    turn = Turn("户口在江西，人在深圳，能领结婚证吗", "ask_can", wrong_role)
    reply = Conversation(tongban).respond(turn, Memory())
    assert reply.memory.home == "江西省" and reply.memory.at == "广东省深圳市"


def test_an_iso_date_in_the_text_is_read_whole(chat):
    reply = chat("按2023-03-15的政策，宜昌能领证吗", "ask_can")
    assert reply.memory.as_of == "2023-03-15"


def test_a_follow_up_that_changes_only_the_place_says_what_differs(chat):
    first = chat("我户口在江西，在深圳能领结婚证吗，要带什么", "ask_documents")
    assert first.reply.body.kind.value == "documents"
    second = chat("我在广州", "inform")
    assert second.reply.meta.at == "广东省广州市"
    assert second.reply.body is None, "the same list again"
    assert "广州" in second.reply.lead and "与上面相同" in second.reply.lead


def test_a_follow_up_with_a_different_list_shows_it(chat):
    chat("武汉能领结婚证吗", "ask_documents", {"as_of": "2022-03-25"})
    later = chat("按2026年11月的政策呢", "inform")
    assert later.memory.as_of == "2026-11-01"
    assert later.reply.body is not None and "声明" in "".join(later.reply.body.items)


def test_details_on_request_repeat_the_last_answer_expanded(chat):
    first = chat("在深圳能领结婚证吗", "ask_can")
    assert "详情" in shown(first) or first.reply.has_details
    more = chat("详情", "ask_details")
    assert more.expanded
    assert more.reply.meta.item == "marriage_registration"
    assert more.reply.sources and more.reply.sections


def test_details_without_a_question_first_ask_for_one(chat):
    reply = chat("详情", "ask_details")
    assert not reply.expanded and reply.reply.meta.needs == ("item",)
