"""Entities after the knowledge base has checked them: what the dialogue and the hotline see."""

from __future__ import annotations

import pytest

from tongban.nlu.entities import normalise_entities


def ent(text: str, entity: str, surface: str, role: str | None = None, value: str | None = None):
    start = text.index(surface)
    found = {"entity": entity, "start": start, "end": start + len(surface)}
    found["value"] = value or surface
    if role:
        found["role"] = role
    return found


def only(name: str, entities):
    return [e for e in entities if e["entity"] == name]


def keys(entities):
    return sorted((e["entity"], e.get("role"), e["value"]) for e in entities)


@pytest.mark.parametrize(
    ("text", "surface", "item_id"),
    [
        ("2022年5月1日在西安能不能领结昏证", "领结昏证", "marriage_registration"),
        ("門診慢特病要找哪個部門", "門診慢特病", "chronic_disease_settlement"),
        ("人在深圳，辦港澳通行證需要帶什麼證件", "辦港澳通行證", "exit_entry_documents"),
        ("異地住院結算的話自己要付多少錢", "異地住院結算", "inpatient_settlement"),
    ],
)
def test_misspelt_and_traditional_items_become_item_ids(tongban, text, surface, item_id):
    out = only("item", normalise_entities(tongban, text, "ask_can", [ent(text, "item", surface)]))
    assert keys(out) == [("item", None, item_id)]
    assert out[0]["processors"][-1] == "KnowledgeEntities"


@pytest.mark.parametrize(
    ("text", "item_id", "surface"),
    [
        ("社保是云南交的，人在宁波，社宝卡丢了能在这边挂失吗", "social_security_card_loss_report", "社宝卡丢了"),
        ("异地换架照要多少钱，多久能拿到", "driving_licence_renewal", "异地换架照"),
        ("外地罚单逾期不交会有滞纳金吗", "traffic_violation", "外地罚单"),
    ],
)  # fmt: skip
def test_an_item_the_nlu_missed_is_added_with_its_span(tongban, text, item_id, surface):
    out = normalise_entities(tongban, text, "ask_time_fees", [])
    items = only("item", out)
    assert [e["value"] for e in items] == [item_id]
    assert text[items[0]["start"] : items[0]["end"]] == surface


@pytest.mark.parametrize("intent", ["thanks", "case_status", "greet", None])
def test_no_item_is_added_outside_item_questions(tongban, intent):
    assert normalise_entities(tongban, "我的结婚登记办到哪一步了", intent, []) == []


def test_a_fragment_beside_a_resolved_item_is_dropped(tongban):
    text = "门诊慢特病跨省直接结算能介绍下吗"
    found = [ent(text, "item", "门诊慢特病"), ent(text, "item", "门诊")]
    assert keys(normalise_entities(tongban, text, "ask_overview", found)) == [
        ("item", None, "chronic_disease_settlement")
    ]


def test_an_ambiguous_item_alone_is_kept_for_the_dialogue_to_clarify(tongban):
    text = "驾照到期了"
    assert keys(normalise_entities(tongban, text, "ask_can", [ent(text, "item", "驾照")])) == [
        ("item", None, "驾照")
    ]


@pytest.mark.parametrize(
    ("text", "tagged", "expected"),
    [
        ("公积金在天津交的，我在石家庄买房提公积金可以不", [("天津", "at"), ("石家庄", "at")],
         [("天津", "home"), ("石家庄", "at")]),
        ("户口辽宁，在青岛上班，可以就地办护照不", [("辽宁", "at"), ("青岛", "at")],
         [("辽宁", "home"), ("青岛", "at")]),
        ("我爸退休在哈尔滨，现在跟我们住三亚", [("哈尔滨", "at"), ("三亚", "at")],
         [("哈尔滨", "home"), ("三亚", "at")]),
        ("社保转移怎么操作，从北京转回河北", [("北京", "at"), ("河北", "home")],
         [("北京", "home"), ("河北", "at")]),
        ("吉林医保，在大连住院能直接结算吗", [("吉林", "at")], [("吉林", "home"), ("大连", "at")]),
        ("我身分证过期了，人在东莞，不回湖南能办吗", [("东莞", "at"), ("湖南", "at")],
         [("东莞", "at"), ("湖南", "home")]),
        ("车是浙江牌照的，在西安可以年检吗", [("浙江", "at"), ("西安", "at")],
         [("浙江", "home"), ("西安", "at")]),
        ("我俩户口都在山东，现在在无锡能复婚吗", [("山东", "at"), ("无锡", "at")],
         [("山东", "home"), ("无锡", "at")]),
        ("参保地是上海", [("上海", "at")], [("上海", "home")]),
    ],
)  # fmt: skip
def test_the_texts_own_words_decide_whose_place_it_is(tongban, text, tagged, expected):
    found = [ent(text, "place", name, role) for name, role in tagged]
    out = normalise_entities(tongban, text, "ask_can", found)
    places = only("place", out)
    assert sorted((e["value"], e["role"]) for e in places) == sorted(expected)


def test_without_a_cue_the_nlu_role_stands(tongban):
    text = "重庆和成都哪边能办"
    found = [ent(text, "place", "重庆", "home"), ent(text, "place", "成都", "at")]
    out = normalise_entities(tongban, text, "ask_can", found)
    assert sorted((e["value"], e["role"]) for e in out) == [("成都", "at"), ("重庆", "home")]


def test_a_place_the_nlu_missed_is_added_with_its_role(tongban):
    text = "公积金在广州交的，房子买在湛江，异地购房提取公积金要交哪些资料"
    found = [ent(text, "place", "广州", "home")]
    places = only("place", normalise_entities(tongban, text, "ask_documents", found))
    assert sorted((e["value"], e["role"]) for e in places) == [("广州", "home"), ("湛江", "at")]
    added = next(e for e in places if e["value"] == "湛江")
    assert text[added["start"] : added["end"]] == "湛江"


def test_a_duration_is_not_a_date(tongban):
    text = "在上海交了8年社保，想转到湖北"
    found = [ent(text, "date", "年")]
    assert only("date", normalise_entities(tongban, text, "ask_can", found)) == []


def test_places_the_knowledge_base_does_not_know_are_dropped(tongban):
    text = "在深圳市南山区"
    found = [ent(text, "place", "深圳市", "at"), ent(text, "place", "南山区", "at")]
    assert keys(normalise_entities(tongban, text, "inform", found)) == [("place", "at", "深圳市")]


def test_of_two_overlapping_dates_the_whole_one_is_kept(tongban):
    text = "按2023年1月1日的政策算"
    found = [ent(text, "date", "年1月1日"), ent(text, "date", "2023年1月1日")]
    assert keys(normalise_entities(tongban, text, "inform", found)) == [
        ("date", None, "2023年1月1日")
    ]


def test_case_numbers_and_other_entities_pass_through(tongban):
    text = "查一下 SZ2024011500123"
    found = [ent(text, "case_number", "SZ2024011500123")]
    assert normalise_entities(tongban, text, "case_status", found) == found
