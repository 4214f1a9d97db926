"""One understanding step (`tongban.understanding.understand`) for every channel: the right
service or an honest "not covered", plausible menus only, named details, follow-ups that keep
their context, corrected misconceptions, and the asked fact first."""

import pytest

from tongban.dialogue import Conversation, Memory, Turn
from tongban.meaning import Clarification, NotCovered, Question
from tongban.understanding import Hints, understand


@pytest.fixture(scope="module")
def conversation(tongban):
    return Conversation(tongban)


def talk(conversation, *messages, metadata=None):
    memory, replies = Memory(), []
    for text in messages:
        response = conversation.respond(Turn(text, metadata=metadata or {}), memory)
        memory = response.memory
        replies.append(response.reply)
    return replies, memory


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ("在外地打工受了工伤，工伤认定去哪申请", "工伤认定及工伤保险待遇"),
        ("残疾人证可以在外地办吗", "残疾人证办理"),
        ("孩子跟着我们在外地上小学要办什么手续", "随迁子女义务教育入学"),
        ("我在苏州能申请积分落户吗", "积分落户"),
    ],
)  # fmt: skip
def test_a_service_the_knowledge_base_lacks_is_named_and_referred(conversation, text, topic):
    (reply,), _ = talk(conversation, text)
    assert reply.meta.item is None, reply.meta.item
    assert reply.meta.topic, reply.lead
    assert reply.meta.topic == topic
    assert "还没有收录" in reply.lead and "12345" in reply.lead


def test_not_covered_is_one_understanding_for_every_caller(tongban):
    meaning = understand(tongban, "工伤认定要什么材料").meaning
    assert isinstance(meaning, NotCovered)
    assert tongban.ask("工伤认定要什么材料").meta.topic == meaning.service.name


def test_small_talk_is_not_a_missing_service(conversation):
    (reply,), _ = talk(conversation, "今天天气真不错")
    assert reply.meta.topic is None and reply.meta.item is None


@pytest.mark.parametrize(
    ("text", "item"),
    [
        ("孩子第一次办身份证，我们在外地能办吗", "first_id_card"),
        ("儿童初次在异地办理身份证该怎么操作", "first_id_card"),
        ("本人不到现场是否可以办理身份证", None),
    ],
)  # fmt: skip
def test_a_child_s_first_id_card_is_never_offered_divorce(conversation, text, item):
    (reply,), _ = talk(conversation, text)
    offered = [o.payload for o in reply.options if o.payload.startswith("item:")]
    assert not any("divorce" in p or "marriage" in p for p in offered), offered
    assert len(offered) <= 4
    if item:
        assert reply.meta.item == item, (reply.lead, offered)


def test_one_clear_lead_is_answered_with_the_others_as_follow_ups(tongban):
    meaning = understand(tongban, "外地嫁上海几年可以上户口").meaning
    assert isinstance(meaning, Question) and meaning.item_id == "hukou_transfer_spouse"
    assert "newborn_hukou" in meaning.also
    reply = tongban.ask("外地嫁上海几年可以上户口")
    assert reply.follow_ups[0].payload == "item:newborn_hukou"


def test_homophone_typos_still_find_the_item_but_near_misses_do_not(tongban):
    assert tongban.candidates("结昏登记要带什么")[0].item_id == "marriage_registration"
    assert tongban.candidates("在外地换架照")[0].item_id == "driving_licence_renewal"
    # 换证 sounds like neither 离婚证 nor 结婚证: a driving licence question stays one
    assert all("divorce" not in c.item_id for c in tongban.candidates("驾驶证满期换证"))


def test_a_named_detail_is_enough_to_go_ahead(conversation):
    replies, _ = talk(conversation, "我在外地住院了，医保能直接结算吗", "那高血压门诊呢")
    assert replies[0].meta.item == "inpatient_settlement"
    assert replies[1].meta.item == "chronic_disease_settlement"
    assert not replies[1].options


def test_follow_ups_keep_places_and_date_and_a_new_place_replaces_the_old(conversation):
    replies, memory = talk(
        conversation,
        "按2021年3月的政策，我户口在湖南，在东莞能领结婚证吗",
        "那离婚呢",
        "我在广州",
    )
    assert [r.meta.item for r in replies] == [
        "marriage_registration",
        "divorce_registration",
    ] * 1 + ["divorce_registration"]
    assert replies[1].meta.as_of == "2021-03-01" and replies[1].meta.home == "湖南省"
    assert replies[1].meta.at == "广东省东莞市"
    assert replies[2].meta.at == "广东省广州市" and replies[2].meta.as_of == "2021-03-01"
    assert memory.at == "广东省广州市" and memory.home == "湖南省"


def test_a_misconception_is_corrected_together_with_the_item(conversation):
    (reply,), _ = talk(conversation, "养老保险不能跨省转吧，换个城市是不是白交了")
    assert reply.meta.item == "pension_transfer_employee"
    assert reply.lead.startswith("并不是不能办")


def test_a_constraint_of_the_person_is_not_a_misconception(conversation):
    (reply,), _ = talk(conversation, "我没法回老家，在深圳能领结婚证吗")
    assert not reply.lead.startswith("并不是不能办")


@pytest.mark.parametrize(
    ("text", "item", "words"),
    [
        ("驾照到期前多久可以去换", "driving_licence_renewal", "九十日"),
        ("失业金需要满足什么条件才能领", "unemployment_benefit", "满1年"),
        ("在外地住院按哪里的标准报销", "inpatient_settlement", "参保地"),
    ],
)  # fmt: skip
def test_the_lead_answers_the_asked_fact_first(conversation, text, item, words):
    (reply,), _ = talk(conversation, text)
    assert reply.meta.item == item
    assert words in reply.lead[:60], reply.lead


def test_explicit_hints_win_over_the_text(tongban):
    shenzhen = tongban.place("深圳")
    meaning = understand(
        tongban, "在广州能领结婚证吗", hints=Hints(at=shenzhen, item="divorce_registration")
    ).meaning
    assert meaning.item_id == "divorce_registration" and meaning.at == shenzhen


def test_nothing_recognised_is_an_empty_clarification(tongban):
    meaning = understand(tongban, "asdf qwer").meaning
    assert isinstance(meaning, Clarification) and meaning.candidates == ()
    assert "没能确定" in tongban.ask("asdf qwer").lead


def test_a_whole_name_in_the_text_beats_a_span_the_nlu_tagged(tongban):
    text = "长沙办理居住证要多久才能领证"
    tagged = ({"entity": "item", "value": "marriage_registration", "start": 11, "end": 13},)
    meaning = understand(
        tongban, text, hints=Hints(intent="ask_time_fees", entities=tagged)
    ).meaning
    assert meaning.item_id == "residence_permit_apply"
