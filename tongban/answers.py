"""(question kind, item, places, date) -> a short Chinese answer with sources and follow-ups.

The one place where answers are worded: every sentence Tongban says is built here from records.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from tongban.dates import format_date
from tongban.eligibility import Assessment, Need, Verdict, assess
from tongban.kb.model import DocumentNeed, Item, KnowledgeBase, Scheme, Source, Stage
from tongban.regions import Place
from tongban.resolve import Candidate

MAX_LINES = 6
HOTLINE = "12345"


class QuestionKind(str, Enum):
    CAN = "can"  # 能不能在这里办
    DOCUMENTS = "documents"  # 要带什么
    PROCESS = "process"  # 怎么办、在哪办
    REGIONS = "regions"  # 哪些地方能办
    TIME_FEES = "time_fees"  # 多久、收费、有效期
    DEPARTMENT = "department"  # 哪个部门管
    OVERVIEW = "overview"  # 介绍一下


KIND_LABELS = {
    QuestionKind.CAN: "能否办理",
    QuestionKind.DOCUMENTS: "所需材料",
    QuestionKind.PROCESS: "办理流程和地点",
    QuestionKind.REGIONS: "适用地区",
    QuestionKind.TIME_FEES: "时限和费用",
    QuestionKind.DEPARTMENT: "主管部门",
    QuestionKind.OVERVIEW: "事项概况",
}
_FOLLOW_UPS = {
    QuestionKind.DOCUMENTS: "{name}需要带什么材料？",
    QuestionKind.PROCESS: "{name}怎么办理、去哪里办？",
    QuestionKind.REGIONS: "{name}哪些地方可以跨省办？",
    QuestionKind.TIME_FEES: "{name}要多久、收费吗？",
}


@dataclass(frozen=True)
class Question:
    kind: QuestionKind
    item_id: str | None
    as_of: dt.date
    home: Place | None = None
    at: Place | None = None
    excluded: str | None = None  # the not-covered case the question is about, if any


@dataclass
class Answer:
    """What Tongban says: at most six lines, then details, sources and follow-up questions."""

    kind: QuestionKind | None
    lines: list[str]
    as_of: dt.date
    details: list[str] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)
    suggestions: list[str] = field(default_factory=list)
    item_id: str | None = None
    verdict: Verdict | None = None
    needs: list[str] = field(default_factory=list)
    candidates: list[Candidate] = field(default_factory=list)
    home: Place | None = None
    at: Place | None = None

    def text(self, with_sources: bool = True, with_details: bool = True) -> str:
        parts = ["\n".join(self.lines)]
        if with_details and self.details:
            parts.append("详细说明：\n" + "\n".join(f"・{d}" for d in self.details))
        if with_sources and self.sources:
            parts.append(sources_text(self.sources))
        return "\n\n".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value if self.kind else None,
            "item": self.item_id,
            "as_of": self.as_of.isoformat(),
            "home": self.home.label if self.home else None,
            "at": self.at.label if self.at else None,
            "verdict": self.verdict.value if self.verdict else None,
            "needs": self.needs,
            "lines": self.lines,
            "details": self.details,
            "sources": [
                {
                    "id": s.id,
                    "title": s.title,
                    "issuer": s.issuer,
                    "ref": s.ref,
                    "date": s.date,
                    "url": s.url,
                }
                for s in self.sources
            ],
            "suggestions": self.suggestions,
            "candidates": [
                {"item": c.item_id, "name": c.name, "score": c.score} for c in self.candidates
            ],
        }


def sources_text(sources: list[Source]) -> str:
    return "来源：\n" + "\n".join(f"[{i}] {s.citation()}" for i, s in enumerate(sources, 1))


# -- item answers ------------------------------------------------------------------------------


def answer_item(kb: KnowledgeBase, question: Question) -> Answer:
    item = kb.items[question.item_id]
    day = question.as_of
    assessment = assess(item, day, question.home, question.at)
    stage = assessment.stage
    composer = _COMPOSERS[question.kind]
    lines, details = composer(kb, item, question, assessment)
    source_ids = (stage.sources if stage else ()) + item.sources
    if question.kind is QuestionKind.PROCESS:
        source_ids += tuple(s for c in item.channels for s in c.sources)
    if stage is None and (assessment.upcoming or assessment.previous):
        other = assessment.upcoming or assessment.previous
        source_ids = other.sources + source_ids
    if day < item.valid_from:
        details.append(
            f"注：办理步骤、条件、收费等一般信息按{format_date(item.valid_from)}起的规定。"
        )
    return Answer(
        kind=question.kind,
        lines=lines[:MAX_LINES],
        details=lines[MAX_LINES:] + details,
        as_of=day,
        sources=kb.sources_for(source_ids),
        suggestions=_suggestions(kb, item, question.kind, assessment),
        item_id=item.id,
        verdict=(Verdict.NO if question.excluded else assessment.verdict)
        if question.kind is QuestionKind.CAN
        else None,
        needs=[n.value for n in assessment.needs] if question.kind is QuestionKind.CAN else [],
        home=question.home,
        at=question.at,
    )


def _place_name(place: Place | None, fallback: str = "当地") -> str:
    return place.short_label if place else fallback


def _needs_text(needs: tuple[Need, ...], question: Question) -> str:
    asks = {
        Need.AT: "您打算在哪个城市办理（所在地）",
        Need.HOME: "您的户籍地（或参保地）在哪里",
        Need.AT_CITY: f"您在{_place_name(question.at)}的哪个城市办理",
        Need.HOME_CITY: f"您的户籍地是{_place_name(question.home)}的哪个城市",
    }
    return "，以及".join(asks[n] for n in needs)


def verdict_line(item: Item, question: Question, a: Assessment) -> str:
    """The first line of a "can I do it here" answer."""
    day = format_date(question.as_of)
    where = _place_name(question.at if item.place_rule != "home" else question.home, "")
    stage = a.stage
    if a.verdict is Verdict.NOT_YET:
        nxt = a.upcoming
        return f"截至{day}，{item.name}还不能跨省办理；{nxt.name}自{format_date(nxt.start)}起实施。"
    if a.verdict is Verdict.ENDED:
        prev = a.previous
        line = f"{prev.name}已于{format_date(prev.end)}结束，{day}时{item.name}不能跨省办理"
        if a.upcoming:
            return line + f"；{a.upcoming.name}自{format_date(a.upcoming.start)}起实施。"
        return line + f"，请向{item.department}或{HOTLINE}热线确认最新安排。"
    if a.verdict is Verdict.LOCAL:
        return f"您的户籍地和办理地都在{where}，不涉及跨省，在当地按常规办理即可。"
    if a.verdict is Verdict.YES and stage.nationwide:
        place = f"在{where}可以直接办理" if where else "在全国各地都可以办理"
        return f"可以。{item.name}自{format_date(stage.start)}起全国通办，{place}。"
    if a.verdict is Verdict.YES:
        return f"可以。{where}在{stage.name}范围内，{item.name}可以在{where}办理。"
    if a.verdict is Verdict.NO:
        return f"按{day}的规定，{where}不在{stage.name}范围内，暂不能在{where}跨省办理{item.name}。"
    return f"还不能确定：{stage.name}只在部分地区实施。请告诉我{_needs_text(a.needs, question)}。"


def _history_line(a: Assessment) -> str | None:
    if a.stage and a.previous:
        return f"（{a.previous.name}已于{format_date(a.previous.end)}结束，现行为{a.stage.name}。）"
    return None


def _scope_line(stage: Stage) -> str:
    return f"适用地区（{stage.name}，自{format_date(stage.start)}起）：{stage.region_names()}"


def _documents_brief(needs: tuple[DocumentNeed, ...]) -> str:
    return "需要带：" + "、".join(n.doc.name for n in needs) if needs else ""


def _document_lines(needs: tuple[DocumentNeed, ...]) -> list[str]:
    return [f"{n.doc.name}" + (f"（{n.condition}）" if n.condition else "") for n in needs]


def _channels_brief(item: Item) -> str:
    return "办理渠道：" + "、".join(c.name for c in item.channels) if item.channels else ""


def _compose_can(kb, item: Item, q: Question, a: Assessment) -> tuple[list[str], list[str]]:
    if q.excluded:
        return [
            f"不可以。{q.excluded}",
            _channels_brief(item),
            f"具体情况可向{item.department}或{HOTLINE}热线咨询。",
        ], []
    lines = [verdict_line(item, q, a)]
    details: list[str] = []
    stage = a.stage
    if stage and not stage.nationwide and a.verdict is not Verdict.LOCAL:
        lines.append(_scope_line(stage))
    if a.verdict is Verdict.NO:
        if a.later_cover:
            lines.append(f"{a.later_cover.name}自{format_date(a.later_cover.start)}起覆盖该地。")
        lines.append("您可以回户籍地办理，或在上述地区办理。")
    if stage and a.verdict in (Verdict.YES, Verdict.UNKNOWN):
        lines.append(stage.summary)
        lines.append(_documents_brief(item.documents_on(q.as_of)))
    history = _history_line(a)
    if history:
        lines.append(history)
    if item.not_covered:
        lines.append("注意：" + "；".join(e.text for e in item.not_covered))
    details += [f"所需材料：{d}" for d in _document_lines(item.documents_on(q.as_of))]
    details += [f"办理条件：{e}" for e in item.eligibility_on(q.as_of)]
    return [line for line in lines if line], details


def _compose_documents(kb, item: Item, q: Question, a: Assessment) -> tuple[list[str], list[str]]:
    needs = item.documents_on(q.as_of)
    stage = a.stage
    when = f"{stage.name}，{format_date(q.as_of)}适用" if stage else f"{format_date(q.as_of)}"
    lines = []
    if q.at or q.home:
        lines.append(verdict_line(item, q, a))
    if not needs:
        lines.append(f"知识库里暂时没有{item.name}的材料清单，请向{item.department}咨询。")
        return lines, []
    lines.append(f"办理{item.name}需要带（{when}）：")
    doc_lines = _document_lines(needs)
    room = MAX_LINES - len(lines) - 1
    if len(doc_lines) <= room + 1:
        lines += [f"・{d}" for d in doc_lines]
    else:
        lines += [f"・{d}" for d in doc_lines[:room]]
        lines.append(f"另有{len(doc_lines) - room}项材料，见详细说明。")
    details = [f"材料：{d}" for d in doc_lines[room:]] if len(doc_lines) > room + 1 else []
    details += [f"{n.doc.name}：{n.doc.note}" for n in needs if n.doc.note]
    details += [f"办理条件：{e}" for e in item.eligibility_on(q.as_of)]
    history = _history_line(a)
    if history:
        details.append(history.strip("（）"))
    return lines, details


def _compose_process(kb, item: Item, q: Question, a: Assessment) -> tuple[list[str], list[str]]:
    lines = []
    if q.at or q.home:
        lines.append(verdict_line(item, q, a))
    if item.modes:
        lines.append("办理方式：" + "、".join(item.modes))
    lines.append(_channels_brief(item))
    steps = [f"{i}. {s}" for i, s in enumerate(item.steps, 1)]
    room = MAX_LINES - len([x for x in lines if x])
    lines += steps[:room]
    details = [f"步骤 {s}" for s in steps[room:]]
    for channel in item.channels:
        extra = "，".join(x for x in (channel.note, channel.url) if x)
        if extra:
            details.append(f"{channel.name}：{extra}")
    if a.stage:
        details.append(a.stage.summary)
    return [x for x in lines if x], details


def _compose_regions(kb, item: Item, q: Question, a: Assessment) -> tuple[list[str], list[str]]:
    lines = []
    if a.stage:
        lines.append(f"截至{format_date(q.as_of)}：{_scope_line(a.stage)}")
        lines.append(a.stage.summary)
    else:
        lines.append(verdict_line(item, q, a))
    if a.upcoming:
        lines.append(
            f"之后：{a.upcoming.name}自{format_date(a.upcoming.start)}起，地区：{a.upcoming.region_names()}"
        )
    if q.at or q.home:
        lines.append(verdict_line(item, q, a))
    details = []
    for stage in item.stages:
        end = f"至{format_date(stage.end)}" if stage.end else "至今"
        details.append(f"{stage.name}（{format_date(stage.start)}{end}）：{stage.region_names()}")
    return _dedupe(lines), details


def _compose_time_fees(kb, item: Item, q: Question, a: Assessment) -> tuple[list[str], list[str]]:
    unknown = "知识库暂无此项信息"
    lines = [
        f"{item.name}：",
        f"办理时限：{item.time_limit or unknown}",
        f"收费：{item.fees or unknown}",
    ]
    if item.validity:
        lines.append(f"有效期：{item.validity}")
    if not (item.time_limit and item.fees):
        lines.append(f"未列明的信息请向{item.department}或{HOTLINE}热线确认。")
    return lines, []


def _compose_department(kb, item: Item, q: Question, a: Assessment) -> tuple[list[str], list[str]]:
    lines = [f"{item.name}的主管部门：{item.department}", _channels_brief(item)]
    lines.append(f"也可拨打{HOTLINE}政务服务便民热线咨询。")
    return [x for x in lines if x], []


def _compose_overview(kb, item: Item, q: Question, a: Assessment) -> tuple[list[str], list[str]]:
    # The item's own summary describes the rules from valid_from on; earlier dates get the stage's.
    if q.as_of >= item.valid_from:
        current = item.summary
    else:
        current = a.stage.summary if a.stage else ""
    lines = [f"{item.name}：{current}"] if current else []
    if q.at or q.home:
        lines.append(verdict_line(item, q, a))
    elif a.stage:
        lines.append(
            f"现行：{a.stage.name}（{format_date(a.stage.start)}起），地区：{a.stage.region_names()}"
        )
    else:
        lines.append(verdict_line(item, q, a))
    if item.modes:
        lines.append("办理方式：" + "、".join(item.modes))
    lines.append(_channels_brief(item))
    lines.append(_documents_brief(item.documents_on(q.as_of)))
    if item.not_covered:
        lines.append("注意：" + "；".join(e.text for e in item.not_covered))
    details = [f"办理条件：{e}" for e in item.eligibility_on(q.as_of)]
    details += list(item.notes)
    details.append(f"主管部门：{item.department}")
    return [x for x in lines if x], details


_COMPOSERS = {
    QuestionKind.CAN: _compose_can,
    QuestionKind.DOCUMENTS: _compose_documents,
    QuestionKind.PROCESS: _compose_process,
    QuestionKind.REGIONS: _compose_regions,
    QuestionKind.TIME_FEES: _compose_time_fees,
    QuestionKind.DEPARTMENT: _compose_department,
    QuestionKind.OVERVIEW: _compose_overview,
}


def _dedupe(lines: list[str]) -> list[str]:
    return list(dict.fromkeys(x for x in lines if x))


def _suggestions(kb: KnowledgeBase, item: Item, kind: QuestionKind, a: Assessment) -> list[str]:
    out = [t.format(name=item.name) for k, t in _FOLLOW_UPS.items() if k is not kind]
    out += [f"{kb.items[r].name}能跨省办吗？" for r in item.related[:2] if r in kb.items]
    return out[:4]


# -- answers without one item ------------------------------------------------------------------


def clarify(candidates: list[Candidate], as_of: dt.date) -> Answer:
    """Several items fit: ask which one."""
    return Answer(
        kind=None,
        lines=["您是想问以下哪一项？"]
        + [f"{i}. {c.name}" for i, c in enumerate(candidates[:5], 1)],
        as_of=as_of,
        suggestions=[c.name for c in candidates[:5]],
        candidates=candidates[:5],
        needs=["item"],
    )


def unknown_item(kb: KnowledgeBase, as_of: dt.date) -> Answer:
    categories = sorted({i.category for i in kb.items.values()})
    return Answer(
        kind=None,
        lines=[
            "抱歉，我没能确定您想办哪项业务。",
            "我可以解答这些方面的跨省通办：" + "、".join(categories) + "。",
            "您可以换个说法，例如“在深圳能领结婚证吗”“异地就医怎么备案”。",
            f"也可以拨打{HOTLINE}政务服务便民热线。",
        ],
        as_of=as_of,
        suggestions=["在外地能领结婚证吗？", "异地就医怎么备案？", "驾驶证可以异地换领吗？"],
        needs=["item"],
    )


def programme_answer(kb: KnowledgeBase, as_of: dt.date) -> Answer:
    p = kb.programme
    if p is None:
        return unknown_item(kb, as_of)
    batches = "、".join(f"{b.name}{b.count}项" for b in p.batches)
    lines = [f"{p.name}：{p.summary}", f"全国高频事项清单共{p.total_items}项（{batches}）。"]
    for expansion in p.expansions:
        if expansion.due is None or expansion.due <= as_of:
            ref = f"（{expansion.ref}）" if expansion.ref else ""
            lines.append(f"{expansion.name}{ref}新增{expansion.count}项。")
    lines.append("办理方式：" + "、".join(m.name for m in p.modes if m.start <= as_of))
    lines.append("您可以直接问具体事项，例如“在外地能办结婚登记吗”。")
    details = [f"{m.name}：{m.summary}" for m in p.modes if m.start <= as_of]
    details += [f"{b.name}示例：{'、'.join(b.examples)}" for b in p.batches if b.examples]
    details += [f.text for f in p.facts if f.start <= as_of]
    ids = [s for group in (p.batches, p.expansions, p.modes) for e in group for s in e.sources]
    ids += [s for f in p.facts if f.start <= as_of for s in f.sources]
    return Answer(kind=QuestionKind.OVERVIEW, lines=lines, as_of=as_of, details=details,
                  sources=kb.sources_for(ids), suggestions=["哪些地区有区域通办？", "在外地能领结婚证吗？"])  # fmt: skip


def scheme_answer(kb: KnowledgeBase, scheme: Scheme, as_of: dt.date) -> Answer:
    members = "、".join(p.short_label for p in scheme.members)
    if scheme.start > as_of:
        lines = [
            f"{scheme.name}自{format_date(scheme.start)}起实施，截至{format_date(as_of)}尚未启动。"
        ]
    else:
        lines = [
            f"{scheme.name}：{scheme.summary}",
            f"成员：{members}",
            f"启动时间：{format_date(scheme.start)}",
        ]
        if scheme.item_count is not None:
            lines.append(f"事项数量：{scheme.item_count}项")
    facts = [f for f in scheme.facts if f.start <= as_of]
    ids = list(scheme.sources) + [s for f in facts for s in f.sources]
    return Answer(kind=QuestionKind.REGIONS, lines=lines, as_of=as_of, details=[f.text for f in facts],
                  sources=kb.sources_for(ids), suggestions=["跨省通办一共有多少项？"])  # fmt: skip
