"""Which item a citizen means, from colloquial, misspelt and 繁体 phrasings."""

import pytest

from tongban.resolve import is_confident


@pytest.mark.parametrize(
    ("text", "item"),
    [
        ("领证", "marriage_registration"), ("扯证要带啥", "marriage_registration"),
        ("结昏登记", "marriage_registration"), ("結婚登記", "marriage_registration"),
        ("想办离婚", "divorce_registration"), ("結婚證丟了", "marriage_certificate_reissue"),
        ("换驾照", "driving_licence_renewal"), ("驾照到期了去哪换", "driving_licence_renewal"),
        ("异地就医备案怎么弄", "medical_filing"), ("医保备案", "medical_filing"),
        ("住院费用能直接结算吗", "inpatient_settlement"), ("门诊慢特病", "chronic_disease_settlement"),
        ("身份证丢了", "id_card_renewal"), ("身分证到期了", "id_card_renewal"),
        ("开无犯罪记录证明", "no_criminal_record"), ("夫妻投靠落户", "hukou_transfer_spouse"),
        ("社保卡丢了", "social_security_card_loss_report"), ("转社保", "pension_transfer_employee"),
        ("领失业金", "unemployment_benefit"), ("退休提公积金", "housing_fund_retirement"),
        ("办护照", "exit_entry_documents"), ("车子年检", "vehicle_inspection"),
        ("新生儿上户口", "newborn_hukou"), ("临时身份证", "temporary_id_card"),
        # A-not-A questions: 迁不迁户口 asks about 迁户口.
        ("去外地上大学迁不迁户口?", "hukou_transfer_college"),
        ("身份证到期了能不能在外地换", "id_card_renewal"),
    ],
)  # fmt: skip
def test_colloquial_phrasings_resolve(tongban, text, item):
    candidates = tongban.candidates(text)
    assert candidates, text
    assert candidates[0].item_id == item, [(c.item_id, c.score) for c in candidates]
    assert is_confident(candidates), [(c.item_id, c.score) for c in candidates]


@pytest.mark.parametrize(
    ("text", "family"), [("迁户口", "hukou_transfer_"), ("公积金", "housing_fund_"), ("驾照", "")]
)
def test_vague_phrasings_give_ranked_choices(tongban, text, family):
    candidates = tongban.candidates(text)
    assert len(candidates) >= 2 and not is_confident(candidates)
    assert all(c.item_id.startswith(family) or not family for c in candidates[:2])
    assert candidates == sorted(candidates, key=lambda c: -c.score)


@pytest.mark.parametrize("text", ["今天天气怎么样", "你好", "", "asdfgh", "😀"])
def test_unrelated_text_resolves_to_nothing(tongban, text):
    assert tongban.candidates(text) == []
