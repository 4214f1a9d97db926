"""The Reply contract: its schema, its renderers, tri-state eligibility, sources and editors' notes."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from tests.conftest import demo_item, write
from tongban import QuestionKind
from tongban.channels.options import to_rasa_text
from tongban.kb.loader import check_knowledge, knowledge_todos
from tongban.kb.official import is_official_url
from tongban.render import numbered_options, plain_text
from tongban.reply import Option, Reply, short_title

SCHEMA = json.loads((Path(__file__).parent.parent / "tongban/reply.schema.json").read_text())
TODAY = "2026-11-22"
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def every_reply(tongban):
    for item_id in tongban.kb.items:
        for kind in QuestionKind:
            for at, as_of in ((None, TODAY), ("深圳", TODAY), ("宜昌", "2022-03-25")):
                yield tongban.ask("", item=item_id, kind=kind, at=at, as_of=as_of)
    for text in ("社保", "我想迁户口", "跨省通办一共多少项", "长三角", "你好呀", "天气怎么样"):
        yield tongban.ask(text, as_of=TODAY)


def test_every_reply_matches_the_published_schema_and_round_trips(tongban) -> None:
    count = 0
    for reply in every_reply(tongban):
        data = reply.to_dict()
        errors = sorted(VALIDATOR.iter_errors(data), key=str)
        assert not errors, (reply.lead, errors[0].message)
        assert Reply.from_dict(json.loads(json.dumps(data))) == reply
        count += 1
    assert count > 900


def test_the_schema_is_strict_about_what_channels_rely_on() -> None:
    good = Reply(lead="可以。").to_dict()
    VALIDATOR.validate(good)
    for broken in (
        good | {"lead": ""},
        good | {"extra": 1},
        good | {"options": [{"title": "一个很长很长很长的按钮标题", "payload": "ask:x"}]},
        good | {"options": [{"title": "结婚", "payload": '/inform{"item":"x"}'}]},
        good | {"meta": good["meta"] | {"eligibility": "maybe"}},
    ):
        assert list(VALIDATOR.iter_errors(broken)), broken


# -- answers that fit a phone ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "as_of"),
    [
        ("我是江西人，在深圳打工，能领结婚证吗？要带什么？", TODAY),
        ("我户口在湖南，在东莞打工，想在这边领结婚证，要带啥？", TODAY),
        ("宜昌能领结婚证吗", "2022-03-25"),
        ("异地就医怎么备案", TODAY),
        ("驾驶证可以异地换领吗", TODAY),
        ("离婚要带什么", TODAY),
    ],
)
def test_first_messages_fit_a_phone_and_repeat_nothing(tongban, question, as_of) -> None:
    reply = tongban.ask(question, as_of=as_of)
    text = plain_text(reply)
    assert len(reply.lead) <= 120 and len(text) <= 350, text
    lines = [line for line in text.splitlines() if line.startswith("・")]
    assert len(lines) == len(set(lines)), "a document or step is listed twice"
    assert "http" not in text, "links wait for the details"
    assert all(len(o.title) <= 12 for o in (*reply.options, *reply.follow_ups))


def test_details_add_conditions_and_sources_without_repeating_the_body(tongban) -> None:
    reply = tongban.ask("在深圳能领结婚证吗", as_of=TODAY)
    short, full = plain_text(reply), plain_text(reply, details=True)
    assert "回复“详情”" in short and "来源：" not in short
    assert "来源：" in full and "办理条件" in full
    body_lines = [f"・{line}" for line in reply.body.items]
    assert all(full.count(line) == 1 for line in body_lines)


def test_text_channels_number_the_options(tongban) -> None:
    reply = tongban.ask("我想迁户口", as_of=TODAY)
    lines = numbered_options(reply)
    assert lines[0].startswith("回复 1 ") and len(lines) == len(reply.options) + len(
        reply.follow_ups
    )
    fallback = numbered_options(tongban.ask("天气怎么样", as_of=TODAY))
    assert "电话：12345" in fallback and not any("拨打" in line for line in fallback)


def test_option_payloads_are_tongbans_own_and_map_to_rasa_at_the_edge() -> None:
    assert Option.item("marriage_registration", "结婚登记").payload == "item:marriage_registration"
    assert to_rasa_text("item:marriage_registration") == '/inform{"item":"marriage_registration"}'
    assert to_rasa_text("ask:结婚登记需要带什么材料？") == "结婚登记需要带什么材料？"
    assert to_rasa_text("case:history") == "/case_history"
    assert to_rasa_text("item:NOT valid") == "item:NOT valid"  # plain text stays text
    assert to_rasa_text("你好") == "你好"
    assert short_title("门诊慢特病相关治疗费用跨省直接结算") == "门诊慢特病相关治疗费用…"
    assert len(short_title("门诊慢特病相关治疗费用跨省直接结算")) == 12


# -- yes, no, or not confirmed --------------------------------------------------------------


def test_outside_a_complete_list_is_no(tongban) -> None:
    reply = tongban.ask("宜昌能领结婚证吗", as_of="2022-03-25")
    assert reply.meta.eligibility.value == "no" and reply.lead.startswith("不可以")


@pytest.mark.parametrize(
    ("question", "as_of", "place"),
    [
        ("在杭州能办二手车异地过户吗", "2022-03-01", "杭州"),
        ("在成都能给新生儿上户口吗", "2024-06-01", "成都"),
    ],
)
def test_outside_a_partial_list_is_not_confirmed_with_where_to_check(
    tongban, question, as_of, place
) -> None:
    reply = tongban.ask(question, as_of=as_of)
    assert reply.meta.item is not None, reply.lead
    assert reply.meta.eligibility.value == "not_confirmed", reply.lead
    assert "未确认" in reply.lead and place in reply.lead
    assert "12345" in reply.lead
    assert "暂不能" not in reply.lead and "不可以" not in reply.lead
    assert "名单不完整" in reply.body.title


def test_a_past_date_shows_what_applies_now_in_the_details(tongban) -> None:
    reply = tongban.ask("武汉能领结婚证吗", as_of="2022-03-25")
    assert reply.meta.eligibility.value == "yes"
    history = next(s for s in reply.sections if s.kind.value == "history")
    assert any(line.startswith("现在：") for line in history.items)
    today = tongban.ask("武汉能领结婚证吗")  # the server's date: nothing superseded to show
    assert not any(s.kind.value == "history" for s in today.sections), "nothing superseded to show"


# -- sources a citizen can trust ------------------------------------------------------------


def test_links_go_only_to_official_domains(tongban) -> None:
    for reply in every_reply(tongban):
        for source in reply.sources:
            assert source.url is None or is_official_url(source.url), source
            assert source.repost == (source.url is None) or not source.url
            assert "转载来源" in source.citation() if source.repost else "《" in source.citation()


@pytest.mark.parametrize(
    ("url", "official"),
    [
        ("https://www.gov.cn/zhengce/content/2021-05/08/content_5605278.htm", True),
        ("http://mzj.sh.gov.cn/x", True),
        ("https://www.news.cn/politics/2025-05/10/c_1.htm", True),
        ("http://sc.people.com.cn/n2/x.html", True),
        ("https://www.bairimeng.net/a", False),
        ("https://gov.cn.evil.example/a", False),
        ("https://evilgov.cn/a", False),
        ("javascript:alert(1)", False),
        ("https://user:pw@www.gov.cn/", False),
        ("", False),
    ],
)
def test_official_domain_allowlist(url, official) -> None:
    assert is_official_url(url) is official


def test_sources_show_issuer_document_and_date(tongban) -> None:
    reply = tongban.ask("在深圳能领结婚证吗", as_of=TODAY)
    citations = [s.citation() for s in reply.sources]
    assert any("国务院令第804号" in c and "2025年4月6日" in c for c in citations), citations


# -- editors' notes stay with editors -------------------------------------------------------


def test_no_editor_note_reaches_a_citizen(tongban) -> None:
    notes = [i.editor_note for i in tongban.kb.items.values() if i.editor_note]
    notes += [s.editor_note for i in tongban.kb.items.values() for s in i.stages if s.editor_note]
    assert notes, "the knowledge base has editors' notes to keep back"
    for reply in every_reply(tongban):
        shown = plain_text(reply, details=True)
        assert "这里按" not in shown and "来源只写" not in shown and "未查到" not in shown
        for note in notes:
            assert note not in shown


def test_kb_check_refuses_an_editors_note_in_citizens_text(mini_kb) -> None:
    item = demo_item()
    item["stages"][0]["summary"] = "试点。来源只写“2021年”，这里按1月1日起记。"
    write(mini_kb / "items/demo/demo_item.yaml", item)
    _, problems = check_knowledge(mini_kb)
    assert any("editor_note" in p and "stages.pilot.summary" in p for p in problems)
    item["stages"][0]["summary"] = "试点。"
    item["stages"][0]["editor_note"] = "来源只写“2021年”，这里按1月1日起记。"
    write(mini_kb / "items/demo/demo_item.yaml", item)
    _, problems = check_knowledge(mini_kb)
    assert problems == []


def test_kb_check_lists_undeclared_lists_and_repost_only_facts(mini_kb) -> None:
    kb, _ = check_knowledge(mini_kb)
    todos = "\n".join(knowledge_todos(kb))
    assert "pilot" in todos and "scope" in todos
    item = demo_item()
    item["stages"][0]["scope"] = "partial"
    write(mini_kb / "items/demo/demo_item.yaml", item)
    kb, _ = check_knowledge(mini_kb)
    assert "scope" not in "\n".join(knowledge_todos(kb))
    assert all("只有转载来源" not in t for t in knowledge_todos(kb))  # example.gov.cn is official
