"""Issue 13: the wrong answers corrected, one test per numbered finding, and the new kb check rules.

Each test asks the engine at the date and place the finding names and checks the corrected answer.
"""

from __future__ import annotations

import datetime as dt

import pytest

from tongban import QuestionKind
from tongban.eligibility import assess
from tongban.kb.loader import check_knowledge, knowledge_todos, load_knowledge
from tongban.render import plain_text

from .conftest import KNOWLEDGE, demo_item, write

CAN = QuestionKind.CAN


def shown(reply) -> str:
    return plain_text(reply, details=True)


def ask(tongban, item, as_of, at=None, home=None, text="", kind=CAN):
    return tongban.ask(text, item=item, at=at, home=home, as_of=as_of, kind=kind)


def section_items(reply, title_part: str) -> list[str]:
    sections = ([reply.body] if reply.body else []) + list(reply.sections)
    return [i for s in sections if s and title_part in s.title for i in s.items]


# -- 1. 住院费用跨省直接结算 -------------------------------------------------------------------


def test_01_inpatient_settlement_was_nationwide_by_2021(tongban):
    reply = ask(tongban, "inpatient_settlement", "2021-06-01", at="北京", home="黑龙江")
    assert reply.meta.eligibility.value == "yes", reply.lead
    assert "还不能" not in reply.lead
    # Begun in 2016, networked step by step: before 2020 it is "not confirmed", never "no".
    early = ask(tongban, "inpatient_settlement", "2018-06-01", at="北京", home="黑龙江")
    assert early.meta.eligibility.value == "not_confirmed", early.lead
    assert early.meta.stage == "rollout"


# -- 2. 普通门诊费用跨省直接结算 ---------------------------------------------------------------


def test_02_outpatient_settlement_regional_pilots_in_2021(tongban):
    inside = ask(tongban, "outpatient_settlement", "2021-01-01", at="北京", home="河北")
    assert inside.meta.eligibility.value == "yes", inside.lead
    assert inside.meta.stage == "regional_pilots"
    outside = ask(tongban, "outpatient_settlement", "2021-01-01", at="北京", home="黑龙江")
    assert outside.meta.eligibility.value == "not_confirmed", outside.lead
    assert "还不能" not in outside.lead and "不可以" not in outside.lead


# -- 3. 跨省异地就医备案 -----------------------------------------------------------------------


def test_03_medical_filing_online_before_the_repost_date(tongban):
    reply = ask(tongban, "medical_filing", "2022-03-01", home="黑龙江", at="北京")
    assert reply.meta.eligibility.value == "yes", reply.lead
    stage = tongban.kb.items["medical_filing"].stage_on(dt.date(2022, 3, 1))
    assert stage.start == dt.date(2021, 12, 31)
    assert "2022年7月28日" not in shown(reply)


# -- 4. 门诊慢特病 ------------------------------------------------------------------------------


def test_04_chronic_disease_first_five_were_a_pilot(tongban):
    reply = ask(tongban, "chronic_disease_settlement", "2022-01-01", at="北京", home="黑龙江")
    assert reply.meta.eligibility.value == "not_confirmed", reply.lead
    assert "全国通办" not in reply.lead
    conditions = " ".join(section_items(reply, "办理条件"))
    assert "参保地认定门诊慢特病待遇资格" in conditions
    later = ask(tongban, "chronic_disease_settlement", "2024-09-15", at="北京", home="黑龙江")
    assert later.meta.eligibility.value == "yes", later.lead
    today = ask(tongban, "chronic_disease_settlement", "2026-11-22", at="北京", home="黑龙江")
    assert "参保地认定门诊慢特病待遇资格" in " ".join(section_items(today, "办理条件"))


# -- 5. 交通违法异地处理 ------------------------------------------------------------------------


def test_05_traffic_violation_anywhere_by_where_it_is_handled(tongban):
    reply = tongban.ask("我是河南人，在成都能处理违章吗", as_of="2023-01-01")
    assert reply.meta.item == "traffic_violation"
    assert reply.meta.eligibility.value == "yes", reply.lead
    assert "不在" not in reply.lead and "暂不能" not in reply.lead
    outside_southwest = ask(tongban, "traffic_violation", "2023-01-01", at="北京", home="河南")
    assert outside_southwest.meta.eligibility.value == "yes", outside_southwest.lead
    assert "暂不能" not in shown(outside_southwest)
    assert tongban.kb.items["traffic_violation"].place_rule == "at"


# -- 6. 二手车异地交易登记 ----------------------------------------------------------------------


def test_06_used_car_registration_in_shijiazhuang(tongban):
    reply = ask(tongban, "used_car_transfer", "2022-03-01", at="石家庄")
    assert reply.meta.eligibility.value == "yes", reply.lead
    after_order_164 = ask(tongban, "used_car_transfer", "2022-06-01", at="石家庄")
    assert after_order_164.meta.eligibility.value == "yes", after_order_164.lead
    assert after_order_164.meta.stage == "order_164"
    elsewhere = ask(tongban, "used_car_transfer", "2022-03-01", at="杭州")
    assert elsewhere.meta.eligibility.value == "not_confirmed", elsewhere.lead


# -- 7. 首次申领居民身份证 ----------------------------------------------------------------------


def test_07_first_id_card_batches_and_pilot_cities(tongban):
    urumqi = ask(tongban, "first_id_card", "2022-11-01", at="乌鲁木齐", home="河南")
    assert urumqi.meta.eligibility.value == "not_confirmed", urumqi.lead
    assert "全国通办" not in urumqi.lead
    # The pilot ran in one city per province: a city of a pilot province is not confirmed.
    pilot = ask(tongban, "first_id_card", "2021-10-01", at="长沙", home="广东")
    assert pilot.meta.eligibility.value == "not_confirmed", pilot.lead
    # From 2022-08-01 the nine provinces are covered region-wide; 京津冀 and 粤湘 are not.
    nine = ask(tongban, "first_id_card", "2022-08-15", at="杭州", home="江苏")
    assert nine.meta.eligibility.value == "yes", nine.lead
    beijing = ask(tongban, "first_id_card", "2022-08-15", at="北京", home="河北")
    assert beijing.meta.eligibility.value == "not_confirmed", beijing.lead
    nationwide = ask(tongban, "first_id_card", "2024-06-01", at="乌鲁木齐", home="河南")
    assert nationwide.meta.eligibility.value == "yes", nationwide.lead


# -- 8. 涉外婚姻登记 ----------------------------------------------------------------------------

ANY_OFFICE = "任一有相应登记权限"


@pytest.mark.parametrize(
    ("item", "at", "as_of"),
    [
        ("marriage_registration", "深圳", "2022-03-25"),
        ("marriage_registration", "杭州", "2024-01-15"),
        ("divorce_registration", "成都", "2022-03-25"),
        ("divorce_registration", "南京", "2024-01-15"),
    ],
)
def test_08_foreign_couples_before_2025_go_to_the_home_province_office(tongban, item, at, as_of):
    reply = ask(tongban, item, as_of, at=at)
    text = shown(reply)
    assert ANY_OFFICE not in text
    assert "常住户口所在地的省级民政部门" in text


def test_08_foreign_couples_from_2025_use_any_office_with_the_powers(tongban):
    for item in ("marriage_registration", "divorce_registration", "marriage_certificate_reissue"):
        assert ANY_OFFICE in shown(ask(tongban, item, "2025-06-01", at="深圳"))


# -- 9. valid_from 是规定的适用日期 -------------------------------------------------------------


@pytest.mark.parametrize(
    ("item", "valid_from"),
    [
        ("pension_transfer_employee", "2010-01-01"),
        ("social_security_card_activate", "2021-12-31"),
        ("social_security_card_apply", "2021-12-31"),
        ("social_security_card_replace", "2021-12-31"),
        ("social_security_card_loss_report", "2021-12-31"),
        ("qualification_verification", "2020-12-31"),
    ],
)
def test_09_valid_from_is_the_date_the_rule_applies_from(tongban, item, valid_from):
    assert tongban.kb.items[item].valid_from.isoformat() == valid_from
    text = shown(ask(tongban, item, "2021-06-01", at="北京", home="河北"))
    for repost_date in (
        "2021年12月7日",
        "2023年8月18日",
        "2023年4月7日",
        "2023年3月21日",
        "2023年8月21日",
    ):
        assert f"按{repost_date}起的规定" not in text


# -- 10. 公积金异地转移 -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["公积金异地转移怎么办", "住房公积金转移接续去哪办", "换城市工作了公积金怎么转"]
)
def test_10_housing_fund_transfer_is_not_the_pension_item(tongban, text):
    reply = tongban.ask(text, as_of="2026-11-22")
    assert reply.meta.item not in ("pension_transfer_employee", "pension_transfer_resident"), (
        reply.lead
    )
    assert "养老保险" not in reply.lead


# -- 11. 离婚受理回执单 -------------------------------------------------------------------------


@pytest.mark.parametrize(("at", "as_of"), [(None, "2026-11-22"), ("成都", "2024-01-15")])
def test_11_divorce_receipt_is_not_brought_to_the_application(tongban, at, as_of):
    reply = ask(tongban, "divorce_registration", as_of, at=at, kind=QuestionKind.DOCUMENTS)
    documents = " ".join(section_items(reply, "需要带"))
    assert documents and "回执" not in documents
    steps = " ".join(section_items(reply, "步骤"))
    assert "受理回执单" in steps


# -- 12. 长三角事项数 ---------------------------------------------------------------------------


def test_12_yangtze_delta_66_is_the_launch_figure_not_current(tongban):
    scheme = tongban.kb.schemes["yangtze_river_delta"]
    assert scheme.item_count is None
    text = shown(tongban.ask("长三角一网通办有多少事项", as_of="2026-11-22"))
    assert "事项数量：66" not in text
    assert all("开通时" in line for line in text.splitlines() if "66项" in line)


# -- 13. 不完整的名单 ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("item", "stage", "at", "as_of"),
    [
        ("e_driving_licence", "batch_1", "杭州", "2021-09-15"),
        ("temporary_id_card", "yunnan", "杭州", "2024-01-01"),
        ("newborn_hukou", "chongqing", "杭州", "2025-01-01"),
    ],
)
def test_13_partial_lists_say_not_confirmed_elsewhere(tongban, item, stage, at, as_of):
    reply = ask(tongban, item, as_of, at=at, home="河南")
    assert reply.meta.stage == stage
    assert reply.meta.eligibility.value == "not_confirmed", reply.lead
    assert "不可以" not in reply.lead and "暂不能" not in reply.lead
    declared = next(s for s in tongban.kb.items[item].stages if s.id == stage)
    assert declared.scope == "partial"


# -- 14. 重复的来源 -----------------------------------------------------------------------------


def test_14_no_two_sources_share_a_url():
    kb, problems = check_knowledge(KNOWLEDGE)
    assert not [p for p in problems if "网址相同" in p]
    for merged in ("xinhua_2020_12_17_nmg_list", "people_sc_2020_11_04_chuanyu_batch1"):
        assert merged not in kb.sources
    assert {"xinhua_2020_12_17_neimenggu", "people_sc_2020_11_04_chuanyu"} <= set(kb.sources)


# -- the new kb check rules ---------------------------------------------------------------------


def test_rule_valid_from_equal_to_a_source_date_is_flagged(mini_kb):
    item = demo_item() | {"valid_from": "2021-04-30"}
    write(mini_kb / "items/demo/demo_item.yaml", item)
    _, problems = check_knowledge(mini_kb)
    assert any("valid_from" in p and "src_a" in p for p in problems)
    write(mini_kb / "items/demo/demo_item.yaml", item | {"valid_from_confirmed": True})
    _, problems = check_knowledge(mini_kb)
    assert not any("valid_from" in p for p in problems)


def test_rule_duplicate_source_url_is_an_error(mini_kb):
    write(mini_kb / "sources/t.yaml", {"sources": [
        {"id": "src_b", "title": "乙", "issuer": "国务院", "ref": "国函", "date": "2021-05-01",
         "url": "https://www.example.gov.cn/a/", "grade": "A"},
    ]})  # fmt: skip
    item = demo_item()
    item["sources"] = ["src_a", "src_b"]
    write(mini_kb / "items/demo/demo_item.yaml", item)
    _, problems = check_knowledge(mini_kb)
    assert any("src_b" in p and "src_a" in p and "网址相同" in p for p in problems)


def test_rule_grade_d_only_hard_fact_is_listed(mini_kb):
    write(mini_kb / "sources/s.yaml", {"sources": [
        {"id": "src_a", "title": "甲文件", "issuer": "某网站", "ref": "转载", "date": "2021-04-30",
         "url": "https://example.com/a", "grade": "D"},
    ]})  # fmt: skip
    kb, problems = check_knowledge(mini_kb)
    assert not problems
    todos = "\n".join(knowledge_todos(kb))
    assert "只有D级来源" in todos and "阶段 pilot" in todos


def test_partly_lists_places_covered_only_in_part(mini_kb, tongban):
    item = demo_item()
    item["stages"][0] |= {"regions": ["湖北省武汉市"], "partly": ["广东省"], "scope": "complete"}
    write(mini_kb / "items/demo/demo_item.yaml", item)
    kb = load_knowledge(mini_kb)

    stage = kb.items["demo_item"].stages[0]
    assert [p.label for p in stage.partly] == ["广东省"] and not stage.nationwide
    day = stage.start
    place = tongban.place
    assert assess(kb.items["demo_item"], day, None, place("武汉")).eligibility == "yes"
    assert assess(kb.items["demo_item"], day, None, place("深圳")).eligibility == "not_confirmed"
    # The list is complete: a place outside both is "no".
    assert assess(kb.items["demo_item"], day, None, place("成都")).eligibility == "no"
    item["stages"][0] = {k: v for k, v in item["stages"][0].items() if k != "regions"} | {
        "partly": ["全国"],
        "scope": "partial",
    }
    write(mini_kb / "items/demo/demo_item.yaml", item)
    rollout = load_knowledge(mini_kb).items["demo_item"]
    assert rollout.stages[0].partly_everywhere
    assert assess(rollout, day, None, place("武汉")).eligibility == "not_confirmed"
