"""Questions about services the knowledge base lacks get an honest "not covered", and menus offer
only plausible candidates."""

from __future__ import annotations

import pytest
import yaml

from tests.conftest import write
from tongban import Tongban
from tongban.dialogue import Conversation, Memory, Turn
from tongban.kb.loader import check_knowledge

TODAY = "2026-11-22"
SERVICES = {
    "services": [
        {"id": "housing_fund_transfer", "name": "住房公积金异地转移接续", "category": "其他",
         "phrases": ["公积金转移", "转公积金", "公积金转入"], "refer": "转入地住房公积金管理中心"},
        {"id": "residence_permit", "name": "居住证申领", "category": "户籍与身份证",
         "phrases": ["居住证"]},
    ]
}  # fmt: skip


@pytest.fixture()
def kb_root(mini_kb):
    write(mini_kb / "not_covered.yaml", SERVICES)
    return mini_kb


@pytest.mark.parametrize(
    "question",
    ["我的公积金转移到外地怎么办", "来深圳工作，原来的公积金转入深圳怎么办？", "怎么转公积金"],
)
def test_a_service_not_held_is_named_and_referred(kb_root, question) -> None:
    reply = Tongban.load(kb_root).ask(question, as_of=TODAY)
    assert reply.meta.item is None and reply.meta.topic == "住房公积金异地转移接续"
    assert reply.lead.startswith("关于“住房公积金异地转移接续”，我这里还没有收录")
    assert "转入地住房公积金管理中心" in reply.lead and "12345" in reply.lead
    assert any(o.payload == "tel:12345" for o in reply.options)


def test_the_dialogue_says_not_covered_even_when_an_item_was_being_discussed(kb_root) -> None:
    conversation = Conversation(Tongban.load(kb_root))
    first = conversation.respond(Turn("示例怎么办理"), Memory())
    assert first.reply.meta.item == "demo_item"
    second = conversation.respond(Turn("那居住证呢"), first.memory)
    assert second.reply.meta.topic == "居住证申领" and second.memory.item is None


def test_an_item_named_plainly_still_wins_over_a_not_held_phrase(kb_root) -> None:
    reply = Tongban.load(kb_root).ask("示例要带什么材料", as_of=TODAY)
    assert reply.meta.item == "demo_item" and reply.meta.topic is None


def test_kb_check_refuses_a_not_held_service_that_an_item_covers(kb_root) -> None:
    services = yaml.safe_load((kb_root / "not_covered.yaml").read_text(encoding="utf-8"))
    services["services"][1]["phrases"].append("示例")  # the demo item's alias
    write(kb_root / "not_covered.yaml", services)
    _, problems = check_knowledge(kb_root)
    assert any("示例" in p and "demo_item" in p for p in problems)


def test_the_real_knowledge_base_has_no_overlap_and_never_offers_unrelated_items(tongban) -> None:
    for question in ("我想给孩子第一次办身份证，在外地能办吗", "小孩初次申领身份证去哪办"):
        reply = tongban.ask(question, as_of=TODAY)
        offered = {o.payload.removeprefix("item:") for o in reply.options}
        assert "divorce_registration" not in offered and reply.meta.item != "divorce_registration"
    for question in ("外地", "领", "报销"):  # one generic word: no menu of guesses
        reply = tongban.ask(question, as_of=TODAY)
        assert len([o for o in reply.options if o.payload.startswith("item:")]) <= 4
