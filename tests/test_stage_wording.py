"""How stages are worded: a stage that runs only in some part of a place (`partly`) says the list is
not known, never that the whole place can, and never "0 known places"; a rule handled by the
responsible office everywhere (`cross_province: false`) is never called 全国通办."""

from tongban.reply import Eligibility


def test_a_province_with_one_unnamed_pilot_city_is_not_confirmed(tongban):
    reply = tongban.ask("孩子第一次办身份证能办吗", home="湖南", at="广州", as_of="2021-08-01")
    assert reply.meta.eligibility is Eligibility.NOT_CONFIRMED
    assert "只在部分地区实施" in reply.lead and "可以。" not in reply.lead


def test_a_roll_out_somewhere_in_the_country_names_no_place(tongban):
    reply = tongban.ask("高血压门诊哪些地方能跨省结算", as_of="2022-06-01")
    assert reply.meta.item == "chronic_disease_settlement"
    assert "逐步推开" in reply.lead and "0个" not in reply.lead
    regions = reply.body.items if reply.body else ()
    assert "全国" not in regions, regions


def test_the_same_question_after_the_roll_out_is_a_plain_yes(tongban):
    reply = tongban.ask("高血压门诊能跨省结算吗", at="广州", as_of="2025-06-01")
    assert reply.meta.eligibility is Eligibility.YES


def test_a_rule_handled_by_the_responsible_office_is_never_called_nationwide(tongban):
    reply = tongban.ask("车牌丢了在外地能补吗", as_of="2026-12-01")
    assert reply.meta.item == "plate_reissue"
    assert "全国通办" not in reply.lead and "全国各地按同一规定办理" in reply.lead
    reply = tongban.ask("公积金在深圳交的，租房能提吗", as_of="2026-12-01")
    assert "由深圳的住房公积金管理中心" in reply.lead, reply.lead
