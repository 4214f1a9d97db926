"""A sourced fact answers the question that was asked, ahead of the general answer."""

from __future__ import annotations

import pytest

from tests.conftest import demo_item, write
from tongban import Tongban
from tongban.kb.loader import KnowledgeErrors, load_knowledge

TODAY = "2026-11-22"
RENEWAL = {
    "text": "有效期满前九十日内可以申请换证。",
    "asks": ["到期前多久", "提前多久换", "什么时候可以换"],
    "sources": ["src_a"],
}
FEE = {
    "text": "示例事项不收费。",
    "asks": ["收费吗", "要钱吗"],
    "sources": ["src_a"],
    "from": "2024-01-01",
}


def kb_with_facts(mini_kb):
    item = demo_item() | {"facts": [RENEWAL, FEE]}
    write(mini_kb / "items/demo/demo_item.yaml", item)
    return Tongban.load(mini_kb)


def test_the_asked_fact_leads_the_answer(mini_kb) -> None:
    tongban = kb_with_facts(mini_kb)
    for question in ("示例到期前多久可以换", "示例提前多久换啊", "示例什么时候可以换"):
        reply = tongban.ask(question, as_of=TODAY)
        assert reply.lead.startswith("有效期满前九十日内可以申请换证。"), reply.lead
        assert any(s.title == "甲文件" for s in reply.sources)


def test_a_question_no_fact_answers_gets_the_general_answer(mini_kb) -> None:
    reply = kb_with_facts(mini_kb).ask("示例怎么办理", as_of=TODAY)
    assert not reply.lead.startswith("有效期满")


def test_a_fact_applies_only_from_its_date(mini_kb) -> None:
    tongban = kb_with_facts(mini_kb)
    assert tongban.ask("示例收费吗", as_of="2024-06-01").lead.startswith("示例事项不收费")
    assert not tongban.ask("示例收费吗", as_of="2023-06-01").lead.startswith("示例事项不收费")


def test_facts_need_sources_and_real_phrasings(mini_kb) -> None:
    item = demo_item() | {"facts": [{"text": "一句话。", "asks": ["x"], "sources": ["nowhere"]}]}
    write(mini_kb / "items/demo/demo_item.yaml", item)
    with pytest.raises(KnowledgeErrors) as failure:
        load_knowledge(mini_kb)
    text = "\n".join(str(e) for e in failure.value.errors)
    assert "nowhere" in text and "太短" in text


def test_a_yes_stays_ahead_of_the_asked_fact(tongban) -> None:
    """驾照考试可以转地方考吗: the answer says 可以 first, then the fact asked about."""
    reply = tongban.ask("驾照考试可以转地方考吗", as_of=TODAY)
    assert reply.lead.startswith("可以。") and "变更考试地" in reply.lead, reply.lead
    assert reply.lead.count("可以。") == 1, reply.lead
