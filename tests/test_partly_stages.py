"""Stages that run only in some part of a place (`partly`): the answer says the list is not known,
never that the whole place can, and never a count of "0 known places"."""

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
