"""What kind of question a message asks (documents, process, regions ...), from its wording.

Used by the `tongban` command and as a fallback when the NLU gives no question kind.
"""

from __future__ import annotations

import re

from tongban.meaning import QuestionKind
from tongban.text import compact

# Checked in this order: a message that asks both "can I" and "what to bring" gets the documents
# answer, which starts with the can-I verdict when places are known.
_CUES: tuple[tuple[QuestionKind, tuple[str, ...]], ...] = (
    (QuestionKind.DOCUMENTS, (
        "材料", "带什么", "带啥", "带哪些", "需要什么", "需要啥", "要什么", "要啥", "证件", "资料", "准备什么",
        "准备啥", "准备哪些", "提交什么", "提供什么", "要带", "拿什么", "带上", "需要哪些",
    )),
    (QuestionKind.REGIONS, (
        "哪些地方", "哪些省", "哪些城市", "哪些地区", "哪几个省", "哪些市", "什么地方可以", "范围", "试点",
        "覆盖", "全国都", "全国通", "哪里都",
    )),
    (QuestionKind.TIME_FEES, (
        "多久", "多长时间", "几天", "时限", "费用", "收费", "多少钱", "要钱", "免费", "有效期", "工本费",
        "花钱", "收钱", "办结", "几个工作日", "有效多久", "管多久",
    )),
    (QuestionKind.DEPARTMENT, ("哪个部门", "什么部门", "找谁", "谁管", "归谁", "哪个单位", "主管", "哪个机关")),
    (QuestionKind.PROCESS, (
        "怎么办", "怎么弄", "如何办", "咋办", "怎么搞", "流程", "步骤", "在哪", "哪里办", "去哪", "地点",
        "网上", "线上", "程序", "怎么申请", "如何申请", "怎么操作", "渠道", "app", "小程序", "窗口", "怎么",
        "如何", "哪里",
    )),
    (QuestionKind.CAN, (
        "能不能", "可不可以", "能否", "可以吗", "能吗", "能办", "可以办", "行不行", "行吗", "是否可以", "允许",
        "可以在", "能在", "可否", "办得了", "办不了", "支持",
    )),
    (QuestionKind.OVERVIEW, ("介绍", "是什么", "什么是", "了解", "说明", "政策")),
)  # fmt: skip


# "能在深圳领证吗", "可以异地换吗": a can-I question with words between the verb and 吗.
_CAN_PATTERN = re.compile(r"(能|可以|可否|可不可|能不能|让不让).{0,12}(吗|嘛|么|不)")


def detect_kind(text: str) -> QuestionKind | None:
    key = compact(text)
    for kind, cues in _CUES:
        if any(cue in key for cue in cues):
            return kind
        if kind is QuestionKind.CAN and _CAN_PATTERN.search(key):
            return kind
    return None


# "养老保险不能跨省转吧", "听说异地办不了", "是不是白交了": the message takes a "no" for granted.
# A constraint of the person's own ("我没法回老家办") is not such a belief.
_PRESUMED_NO = re.compile(
    r"(听说|是不是|好像|应该|据说|难道|本来就|一直以为)[^，。？！,?!]{0,10}(不能|不可以|办不了|转不了|不行|没法|白交)"
    r"|(不能|不可以|办不了|转不了|没法)[^，。？！,?!]{0,10}吧|白交"
)


def presumes_cannot(text: str) -> bool:
    return bool(_PRESUMED_NO.search(compact(text)))
