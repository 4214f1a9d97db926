"""Can it be done here, on this date? Table-driven across the marriage stages and city scopes."""

import pytest

from tongban import QuestionKind
from tongban.eligibility import Verdict
from tongban.render import plain_text


def shown(reply) -> str:
    return plain_text(reply, details=True)


TODAY = "2026-11-22"


@pytest.mark.parametrize(
    ("item", "at", "as_of", "verdict"),
    [
        # First pilot: provinces plus two single cities; divorce only in five provinces.
        ("marriage_registration", "武汉", "2022-03-25", Verdict.YES),
        ("marriage_registration", "宜昌", "2022-03-25", Verdict.NO),
        ("marriage_registration", "西安", "2022-03-25", Verdict.YES),
        ("marriage_registration", "宝鸡", "2022-03-25", Verdict.NO),
        ("marriage_registration", "南京", "2022-03-25", Verdict.YES),
        ("marriage_registration", "深圳", "2022-03-25", Verdict.YES),
        ("marriage_registration", "杭州", "2022-03-25", Verdict.NO),
        ("divorce_registration", "南京", "2022-03-25", Verdict.NO),
        ("divorce_registration", "武汉", "2022-03-25", Verdict.NO),
        ("divorce_registration", "成都", "2022-03-25", Verdict.YES),
        ("divorce_registration", "重庆", "2022-03-25", Verdict.YES),
        # Second pilot: 21 provinces.
        ("marriage_registration", "杭州", "2024-01-15", Verdict.YES),
        ("marriage_registration", "宜昌", "2024-01-15", Verdict.YES),
        ("marriage_registration", "贵阳", "2024-01-15", Verdict.NO),
        ("divorce_registration", "南京", "2024-01-15", Verdict.YES),
        ("divorce_registration", "昆明", "2024-01-15", Verdict.NO),
        # Stage boundaries.
        ("marriage_registration", "宜昌", "2023-05-31", Verdict.NO),
        ("marriage_registration", "宜昌", "2023-06-01", Verdict.YES),
        ("marriage_registration", "贵阳", "2025-05-09", Verdict.NO),
        ("marriage_registration", "贵阳", "2025-05-10", Verdict.YES),
        ("marriage_registration", "深圳", "2021-05-31", Verdict.NOT_YET),
        # Nationwide today.
        ("marriage_registration", "贵阳", TODAY, Verdict.YES),
        ("marriage_registration", "拉萨", TODAY, Verdict.YES),
        ("divorce_registration", "乌鲁木齐", TODAY, Verdict.YES),
    ],
)
def test_marriage_eligibility_by_date_and_place(tongban, item, at, as_of, verdict):
    reply = tongban.ask("", item=item, at=at, as_of=as_of, kind=QuestionKind.CAN)
    assert reply.meta.verdict == verdict.value, shown(reply)


def test_province_only_under_city_scope_asks_for_the_city(tongban):
    reply = tongban.ask("湖北能领结婚证吗", as_of="2022-03-25")
    assert reply.meta.verdict == Verdict.UNKNOWN.value
    assert reply.meta.eligibility.value == "not_confirmed"
    assert reply.meta.needs == ("at_city",)
    assert "哪个城市" in reply.lead


def test_no_place_under_a_regional_stage_asks_where(tongban):
    reply = tongban.ask("异地能领结婚证吗", as_of="2024-01-15")
    assert reply.meta.verdict == Verdict.UNKNOWN.value
    assert reply.meta.needs == ("at",)


def test_no_place_is_fine_once_nationwide(tongban):
    reply = tongban.ask("异地能领结婚证吗", as_of=TODAY)
    assert reply.meta.eligibility.value == "yes"
    assert "全国" in reply.lead


def test_same_city_is_a_local_matter(tongban):
    reply = tongban.ask("户口在武汉，人在武汉，能领结婚证吗", as_of="2022-03-25")
    assert reply.meta.verdict == Verdict.LOCAL.value and reply.meta.eligibility.value == "yes"


def test_refusal_says_what_replaces_the_stage(tongban):
    reply = tongban.ask("宜昌能领结婚证吗", as_of="2022-03-25")
    assert reply.meta.eligibility.value == "no"  # the first pilot's list is complete
    assert reply.lead.startswith("不可以")
    assert "第二批" in reply.lead and "2023年6月1日" in reply.lead


def test_ended_pilot_is_named_after_it_ended(tongban):
    reply = tongban.ask("杭州能领结婚证吗", as_of="2024-01-15")
    assert "第一批" in shown(reply) and "结束" in shown(reply)


def test_the_mission_example(tongban):
    reply = tongban.ask("我是江西人，在深圳打工，能在深圳领结婚证吗？要带什么？", as_of=TODAY)
    assert reply.meta.item == "marriage_registration"
    assert reply.meta.home == "江西省" and reply.meta.at == "广东省深圳市"
    assert reply.meta.kind == QuestionKind.DOCUMENTS.value
    assert reply.lead.startswith("可以") and len(reply.lead) <= 120
    body = "\n".join(reply.body.items)
    assert "居民身份证" in body and "声明" in body
    assert "户口簿" not in body
    assert len(plain_text(reply)) <= 200


@pytest.mark.parametrize(
    ("as_of", "present", "absent"),
    [
        ("2022-03-25", ["居住证", "户口簿", "居民身份证"], ["声明"]),
        ("2024-01-15", ["居住证", "户口簿", "居民身份证"], ["声明"]),
        (TODAY, ["居民身份证", "声明"], ["户口簿", "居住证"]),
    ],
)
def test_marriage_documents_by_stage(tongban, as_of, present, absent):
    reply = tongban.ask("结婚登记要带什么材料", at="深圳", as_of=as_of)
    body = "\n".join(reply.body.items)
    for word in present:
        assert word in body, (as_of, word)
    for word in absent:
        assert word not in body, (as_of, word)


def test_divorce_documents_today_need_the_marriage_certificate(tongban):
    reply = tongban.ask("离婚要带什么", as_of=TODAY)
    assert reply.meta.item == "divorce_registration"
    assert "结婚证" in shown(reply) and "离婚协议" in shown(reply)


def test_divorce_mentions_the_cooling_off_period(tongban):
    text = shown(tongban.ask("离婚怎么办理", as_of=TODAY))
    assert "冷静期" in text and "30" in text


def test_explicit_places_win_over_the_text(tongban):
    reply = tongban.ask("我在宜昌，能领结婚证吗", at="武汉", as_of="2022-03-25")
    assert reply.meta.at == "湖北省武汉市"
    assert reply.meta.eligibility.value == "yes"


def test_every_answer_has_dated_sources(tongban):
    for item_id in tongban.kb.items:
        for kind in QuestionKind:
            reply = tongban.ask("", item=item_id, kind=kind, at="深圳", as_of=TODAY)
            assert reply.sources, (item_id, kind)
            assert all(s.date and s.issuer and s.title for s in reply.sources)
            assert reply.lead and len(reply.lead) <= 160, (item_id, kind, reply.lead)
