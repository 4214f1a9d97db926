"""Items added for issue 13 §3: each answers its service at a date and place, with a key fact."""

from __future__ import annotations

import os

import pytest

from tongban import Tongban

CASES = [
    ("在深圳办居住证要什么材料", "2026-12-01", "residence_permit_apply", "居民身份证"),
    ("居住证多久能拿到", "2026-12-01", "residence_permit_apply", "15日"),
    ("公积金怎么转到外地", "2026-12-01", "housing_fund_transfer", "30日"),
    ("我户口江西公积金在深圳交的，租房可以提公积金吗", "2026-12-01", "housing_fund_rent", "深圳"),
    ("还房贷能提公积金吗", "2026-12-01", "housing_fund_loan_repayment", "偿还购房贷款"),
    ("公积金封存了怎么办", "2026-12-01", "housing_fund_seal", "封存"),
    ("公积金余额怎么查", "2026-12-01", "housing_fund_query", "查询"),
    ("车牌丢了在外地能补吗", "2026-12-01", "plate_reissue", "登记地"),
    ("行驶证丢了在哪补", "2026-12-01", "vehicle_licence_reissue", "登记地"),
    ("年检标志丢了怎么补", "2026-12-01", "inspection_mark_reissue", "1日内"),
    ("临牌能办几次", "2026-12-01", "temporary_plate", "3次"),
    ("驾照扣分什么时候清零", "2026-12-01", "driving_points_query", "12个月"),
    ("驾照扣满12分在外地能学习吗", "2026-12-01", "full_points_education", "发生地"),
    ("学法减分能减几分", "2026-12-01", "points_reduction", "减1分"),
    ("哪些交管业务可以跨省办", "2026-12-01", "jiaoguan_services", "12类"),
    ("报到证丢了怎么办", "2026-12-01", "graduate_report", "2023年"),
    ("在外地生孩子出生证明在哪办", "2026-12-01", "birth_medical_certificate", "助产机构"),
    ("个税完税证明怎么开", "2026-12-01", "tax_payment_record", "电子税务局"),
]


@pytest.fixture(scope="module")
def tongban() -> Tongban:
    return Tongban.load(os.environ.get("TONGBAN_TEST_KB", "knowledge"))


@pytest.mark.parametrize(("question", "as_of", "item", "fact"), CASES)
def test_new_item_answers(
    tongban: Tongban, question: str, as_of: str, item: str, fact: str
) -> None:
    reply = tongban.ask(question, as_of=as_of)
    assert reply.meta.item == item, (question, reply.meta.item, reply.lead)
    assert fact in reply.lead, reply.lead


def test_lost_birth_certificate_is_an_honest_referral(tongban: Tongban) -> None:
    reply = tongban.ask("出生证丢了怎么补", as_of="2026-12-01")
    assert reply.meta.item is None and "还没有收录" in reply.lead


def test_graduate_report_card_did_not_exist_in_rules_before_2023(tongban: Tongban) -> None:
    assert tongban.ask("报到证丢了怎么办", as_of="2022-06-01").meta.eligibility.value == "no"
