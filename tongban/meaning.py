"""What a message was understood to mean, before anything is worded.

`tongban.understanding.understand` produces one of these; `tongban.answers.answer` turns it into
the `Reply`. Nothing here knows about channels, Rasa or wording.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import Enum

from tongban.kb.model import Scheme, UncoveredService
from tongban.regions import Place
from tongban.resolve import Candidate


class QuestionKind(str, Enum):
    CAN = "can"  # 能不能在这里办
    DOCUMENTS = "documents"  # 要带什么
    PROCESS = "process"  # 怎么办、在哪办
    REGIONS = "regions"  # 哪些地方能办
    TIME_FEES = "time_fees"  # 多久、收费、有效期
    DEPARTMENT = "department"  # 哪个部门管
    OVERVIEW = "overview"  # 介绍一下


@dataclass(frozen=True)
class Question:
    """A question about one item, for given places and date."""

    kind: QuestionKind
    item_id: str | None
    as_of: dt.date
    home: Place | None = None
    at: Place | None = None
    excluded: str | None = None  # the not-covered case the question is about, if any
    text: str = ""  # the question as asked: a sourced fact may answer it exactly
    also: tuple[str, ...] = ()  # other items that fitted less well, offered as follow-ups


@dataclass(frozen=True)
class Clarification:
    """Several items fit about equally: ask which one. No candidates: nothing was recognised."""

    candidates: tuple[Candidate, ...]
    as_of: dt.date


@dataclass(frozen=True)
class NotCovered:
    """A government service the knowledge base does not hold."""

    service: UncoveredService
    as_of: dt.date


@dataclass(frozen=True)
class Overview:
    """The 跨省通办 programme as a whole, or one regional scheme (长三角, 川渝 ...)."""

    as_of: dt.date
    scheme: Scheme | None = None


Meaning = Question | Clarification | NotCovered | Overview
