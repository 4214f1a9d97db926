"""(question kind, item, places, date) -> a `Reply` that fits a phone, with sources and follow-ups.

The one place where answers are worded: every sentence Tongban says is built here from records.
The lead answers in one or two sentences (can, can't, or not confirmed, with the key condition);
the body is one short list; everything else goes to collapsible details.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from tongban.dates import format_date, server_as_of
from tongban.eligibility import Assessment, Need, Verdict, assess, in_part_of
from tongban.kb.model import (
    Channel,
    DocumentNeed,
    Item,
    KnowledgeBase,
    QuestionFact,
    Scheme,
    Stage,
    UncoveredService,
)
from tongban.kb.official import is_official_url
from tongban.meaning import Clarification, Meaning, NotCovered, Overview, Question, QuestionKind
from tongban.questions import presumes_cannot
from tongban.regions import Place
from tongban.reply import Eligibility, Meta, Option, Reply, Section, SectionKind, SourceView
from tongban.resolve import Candidate
from tongban.text import compact

HOTLINE = "12345"
MAX_CANDIDATES = 4
MAX_SOURCES = 6
MAX_BODY_STEPS = 4
DETAILS_HINT = "回复“详情”查看办理条件和政策来源。"


KIND_LABELS = {
    QuestionKind.CAN: "能否办理",
    QuestionKind.DOCUMENTS: "所需材料",
    QuestionKind.PROCESS: "办理流程和地点",
    QuestionKind.REGIONS: "适用地区",
    QuestionKind.TIME_FEES: "时限和费用",
    QuestionKind.DEPARTMENT: "主管部门",
    QuestionKind.OVERVIEW: "事项概况",
}
# Follow-up questions: (button title, the full question it asks).
_FOLLOW_UPS = {
    QuestionKind.DOCUMENTS: ("要带什么材料", "{name}需要带什么材料？"),
    QuestionKind.PROCESS: ("怎么办理", "{name}怎么办理、去哪里办？"),
    QuestionKind.REGIONS: ("哪些地方能办", "{name}哪些地方可以跨省办？"),
    QuestionKind.TIME_FEES: ("要多久、收费吗", "{name}要多久、收费吗？"),
}


def source_views(kb: KnowledgeBase, ids: tuple[str, ...] | list[str]) -> tuple[SourceView, ...]:
    """The sources as citizens see them: official ones first, at most MAX_SOURCES."""
    sources = kb.sources_for(ids)
    ranked = sorted(sources, key=lambda s: not s.official)
    return tuple(s.view() for s in ranked[:MAX_SOURCES])


# -- item answers ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Parts:
    lead: str
    body: Section | None = None
    sections: tuple[Section, ...] = ()


def answer_item(kb: KnowledgeBase, question: Question) -> Reply:
    item = kb.items[question.item_id]
    day = question.as_of
    assessment = assess(item, day, question.home, question.at)
    parts = _COMPOSERS[question.kind](item, question, assessment)
    fact = asked_fact(item, question.text, day)
    if fact is not None and not question.excluded:
        parts = _answer_with(fact, parts)
    if presumes_cannot(question.text) and assessment.verdict is Verdict.YES:
        # "养老保险不能跨省转吧": correct the belief before anything else.
        parts = replace(parts, lead=fit(f"并不是不能办：{item.name}可以跨省办理。" + parts.lead))
    sections = list(parts.sections) + _common_sections(item, question, assessment)
    stage = assessment.stage or assessment.upcoming or assessment.previous
    source_ids = (fact.sources if fact else ()) + (stage.sources if stage else ()) + item.sources
    if question.kind is QuestionKind.PROCESS:
        source_ids += tuple(s for c in item.channels for s in c.sources)
    eligibility = Eligibility.NO if question.excluded else Eligibility(assessment.eligibility)
    return Reply(
        lead=parts.lead,
        body=parts.body,
        sections=tuple(
            s for s in _merge(sections) if not parts.body or s.title != parts.body.title
        ),
        follow_ups=_follow_ups(kb, item, question),
        sources=source_views(kb, source_ids),
        meta=Meta(
            kind=question.kind.value,
            item=item.id,
            stage=assessment.stage.id if assessment.stage else None,
            as_of=day.isoformat(),
            eligibility=eligibility,
            verdict="excluded" if question.excluded else assessment.verdict.value,
            home=question.home.label if question.home else None,
            at=question.at.label if question.at else None,
            needs=tuple(n.value for n in assessment.needs),
        ),
    )


FACT_FUZZY = 90  # rapidfuzz partial ratio for an asked phrasing of 4 or more characters


def asked_fact(item: Item, text: str, day: dt.date) -> QuestionFact | None:
    """The item's sourced fact whose phrasings the question uses (the longest match wins)."""
    from rapidfuzz import fuzz

    key = compact(text)
    if not key:
        return None
    best, best_len = None, 0
    for fact in item.facts:
        if fact.start > day:
            continue
        for ask in fact.asks:
            phrase = compact(ask)
            hit = phrase in key or (
                len(phrase) >= 4 and fuzz.partial_ratio(phrase, key) >= FACT_FUZZY
            )
            if hit and len(phrase) > best_len:
                best, best_len = fact, len(phrase)
    return best


_VERDICTS = ("可以。", "不可以。")


def _answer_with(fact: QuestionFact, parts: _Parts) -> _Parts:
    """The asked fact leads; the composer's own lead follows when it fits, else moves to the
    details. A yes or no stays first: "可以。考过部分科目后……" reads as the answer it is."""
    verdict = next((v for v in _VERDICTS if parts.lead.startswith(v)), "")
    joined = verdict + fact.text + parts.lead[len(verdict) :]
    if len(joined) <= MAX_LEAD:
        return _Parts(joined, parts.body, parts.sections)
    moved = Section(SectionKind.NOTES, "能否办理和要点", (parts.lead,))
    return _Parts(fit(verdict + fact.text), parts.body, (moved, *parts.sections))


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


def where_to_check(item: Item) -> str:
    """Who can confirm what the knowledge base cannot: an online channel, or the department."""
    online = next((c for c in item.channels if c.kind in ("app", "mini_program", "website")), None)
    who = f"{item.department}（或“{online.name}”）" if online else item.department
    return f"请向{who}或{HOTLINE}热线核实"


def verdict_line(item: Item, question: Question, a: Assessment) -> str:
    """The lead of a "can I do it here" answer: can, can't or not confirmed, with the condition."""
    day = format_date(question.as_of)
    rule_place = question.at if item.place_rule != "home" else question.home
    where = _place_name(a.outside or rule_place, "")
    stage = a.stage
    if a.verdict is Verdict.NOT_YET:
        nxt = a.upcoming
        return f"截至{day}，{item.name}还不能跨省办理；{nxt.name}自{format_date(nxt.start)}起实施。"
    if a.verdict is Verdict.ENDED:
        prev = a.previous
        line = f"{prev.name}已于{format_date(prev.end)}结束，{day}时{item.name}不能跨省办理"
        if a.upcoming:
            return line + f"；{a.upcoming.name}自{format_date(a.upcoming.start)}起实施。"
        return line + f"，{where_to_check(item)}最新安排。"
    if a.verdict is Verdict.LOCAL:
        return f"您的户籍地和办理地都在{where}，不涉及跨省，在当地按常规办理即可。"
    if a.verdict is Verdict.YES and stage.nationwide and not item.cross_province:
        return _same_rule_everywhere(item, stage, where)
    if a.verdict is Verdict.YES and stage.nationwide:
        place = f"在{where}可以直接办理" if where else "在全国各地都可以办理"
        return f"可以。{item.name}自{format_date(stage.start)}起全国通办，{place}。"
    if a.verdict is Verdict.YES:
        return f"可以。{where}在{stage.name}范围内，可以在{where}办理{item.name}。"
    if a.verdict is Verdict.NO:
        line = f"不可以。按{day}的规定，{where}不在{stage.name}范围内，暂不能在{where}跨省办理"
        if a.later_cover:
            return line + f"；{a.later_cover.name}自{format_date(a.later_cover.start)}起覆盖该地。"
        return line + "，可以回户籍地或在范围内的地区办理。"
    if a.verdict is Verdict.NOT_CONFIRMED and stage.partly_everywhere:
        return (
            f"未确认：{stage.name}正在全国逐步推开，知识库没有已开通地区的名单，"
            f"不能确定{where or '当地'}能否办理{item.name}。{where_to_check(item)}。"
        )
    if (
        a.verdict is Verdict.NOT_CONFIRMED
        and a.outside is not None
        and in_part_of(stage, a.outside)
    ):
        return (
            f"未确认：{stage.name}在{where}只在部分地区实施，知识库没有具体名单，"
            f"不能确定{where}能否办理{item.name}。{where_to_check(item)}。"
        )
    if a.verdict is Verdict.NOT_CONFIRMED:
        return (
            f"未确认：{where}不在已知的{stage.name}地区名单里，但名单并不完整，"
            f"不能确定{where}能否办理{item.name}。{where_to_check(item)}。"
        )
    return f"还不能确定：{stage.name}只在部分地区实施。请告诉我{_needs_text(a.needs, question)}。"


def _same_rule_everywhere(item: Item, stage: Stage, where: str) -> str:
    """A rule that applies everywhere but is not a 跨省通办 service (`cross_province: false`):
    the responsible office handles it, so "全国通办" would promise too much."""
    since = format_date(stage.start)
    if item.place_rule == "home":
        office = f"{where}的{item.department}" if where else item.department
        return f"{item.name}全国各地按同一规定办理（{since}起），由{office}受理。"
    place = f"在{where}" if where else "在当地"
    return f"可以。{item.name}全国各地按同一规定办理（{since}起），{place}向{item.department}申请。"


def _documents(needs: tuple[DocumentNeed, ...], title: str = "需要带") -> Section | None:
    if not needs:
        return None
    items = tuple(n.doc.name + (f"（{n.condition}）" if n.condition else "") for n in needs)
    return Section(SectionKind.DOCUMENTS, title, items)


def _document_notes(needs: tuple[DocumentNeed, ...]) -> Section | None:
    notes = tuple(f"{n.doc.name}：{n.doc.note}" for n in needs if n.doc.note)
    return Section(SectionKind.DOCUMENTS, "材料说明", notes) if notes else None


def _regions(stage: Stage, title: str | None = None) -> Section:
    if stage.partly_everywhere:
        names: tuple[str, ...] = ("全国部分地区（知识库没有具体名单）",)
    else:
        names = tuple(
            p.label + ("（部分地区）" if p in stage.partly else "") for p in stage.regions
        ) or ("全国",)
    partial = "" if stage.complete else "（已知地区，名单不完整）"
    return Section(SectionKind.REGIONS, title or f"{stage.name}的地区{partial}", names)


def _steps(item: Item) -> Section | None:
    return Section(SectionKind.STEPS, "办理步骤", item.steps) if item.steps else None


def _channel_line(channel: Channel) -> str:
    url = channel.url if is_official_url(channel.url) else ""
    extra = "，".join(x for x in (channel.note, url) if x)
    return f"{channel.name}：{extra}" if extra else channel.name


def _channels(item: Item) -> Section | None:
    lines = tuple(_channel_line(c) for c in item.channels)
    return Section(SectionKind.CHANNELS, "办理渠道", lines) if lines else None


def _conditions(item: Item, day: dt.date) -> Section | None:
    conditions = item.eligibility_on(day)
    return Section(SectionKind.CONDITIONS, "办理条件", conditions) if conditions else None


def _history(item: Item, q: Question, a: Assessment) -> Section | None:
    """Other stages, only when they matter: what comes next, or (asked about a past date)
    what applied before."""
    lines = []
    if a.upcoming and a.verdict is not Verdict.NOT_YET:
        up = a.upcoming
        lines.append(f"之后：{up.name}自{format_date(up.start)}起实施（{up.region_names()}）。")
    if q.as_of < server_as_of():
        current = item.stage_on(server_as_of())
        if current is not None and current is not a.stage:
            lines.append(
                f"现在：{current.name}（{format_date(current.start)}起）：{current.summary}"
            )
        if a.previous and a.stage:
            lines.append(f"此前：{a.previous.name}已于{format_date(a.previous.end)}结束。")
    return Section(SectionKind.HISTORY, "政策变化", tuple(lines)) if lines else None


def _common_sections(item: Item, q: Question, a: Assessment) -> list[Section | None]:
    notes = []
    if a.stage and a.verdict not in (Verdict.NOT_YET, Verdict.ENDED):
        notes.append(a.stage.summary)
    notes += [e.text for e in item.not_covered]
    notes += list(item.notes)
    if q.as_of < item.valid_from:
        notes.append(f"办理步骤、条件、收费等一般信息按{format_date(item.valid_from)}起的规定。")
    return [
        _conditions(item, q.as_of),
        _document_notes(item.documents_on(q.as_of)),
        _steps(item),
        _channels(item),
        Section(SectionKind.NOTES, "注意事项", tuple(notes)) if notes else None,
        _history(item, q, a),
    ]


def _merge(sections: list[Section | None]) -> list[Section]:
    """Drop empty sections and repeats of a section with the same title."""
    seen: set[str] = set()
    out = []
    for section in sections:
        if section is None or not section.items or section.title in seen:
            continue
        seen.add(section.title)
        out.append(section)
    return out


def _compose_can(item: Item, q: Question, a: Assessment) -> _Parts:
    if q.excluded:
        return _Parts(f"不可以。{q.excluded}具体情况可向{item.department}或{HOTLINE}热线咨询。")
    lead = verdict_line(item, q, a)
    if a.verdict is Verdict.NO:
        return _Parts(lead, _regions(a.stage), (_documents(item.documents_on(q.as_of)),))
    if a.verdict is Verdict.NOT_CONFIRMED:
        return _Parts(lead, _regions(a.stage, "已知可以办理的地区（名单不完整）"))
    if a.verdict in (Verdict.NOT_YET, Verdict.ENDED):
        later = a.upcoming
        return _Parts(lead, _regions(later, f"{later.name}的地区") if later else None)
    return _Parts(lead, _documents(item.documents_on(q.as_of)))


def _compose_documents(item: Item, q: Question, a: Assessment) -> _Parts:
    needs = item.documents_on(q.as_of)
    if q.at or q.home:
        lead = verdict_line(item, q, a)
    elif a.stage:
        lead = f"办理{item.name}需要带以下材料（{a.stage.name}，{format_date(q.as_of)}适用）。"
    else:
        lead = f"办理{item.name}需要带以下材料（{format_date(q.as_of)}适用）。"
    if not needs:
        return _Parts(f"{lead}知识库里暂时没有{item.name}的材料清单，请向{item.department}咨询。")
    return _Parts(lead, _documents(needs))


def _compose_process(item: Item, q: Question, a: Assessment) -> _Parts:
    if q.at or q.home:
        lead = verdict_line(item, q, a)
    else:
        how = "、".join(item.modes) or "线下办理"
        where = "、".join(c.name for c in item.channels[:3])
        lead = f"{item.name}可以{how}" + (f"，渠道有{where}。" if where else "。")
    steps = _steps(item)
    if steps and len(steps.items) > MAX_BODY_STEPS:
        rest = len(steps.items) - MAX_BODY_STEPS
        brief = (*steps.items[:MAX_BODY_STEPS], f"……另有{rest}步，见详情")
        return _Parts(lead, Section(SectionKind.STEPS, "主要步骤", brief), (steps, _channels(item)))
    return _Parts(lead, steps, (_channels(item),))


def _compose_regions(item: Item, q: Question, a: Assessment) -> _Parts:
    day = format_date(q.as_of)
    if q.at or q.home:
        lead = verdict_line(item, q, a)
    elif a.stage and a.stage.nationwide and not item.cross_province:
        lead = _same_rule_everywhere(item, a.stage, "")
    elif a.stage and a.stage.nationwide:
        lead = f"截至{day}，{item.name}全国都可以跨省办理（{a.stage.name}，{format_date(a.stage.start)}起）。"
    elif a.stage and a.stage.partly_everywhere:
        lead = f"截至{day}，{item.name}处于{a.stage.name}阶段，在全国逐步推开，知识库没有已开通地区的名单。"
    elif a.stage:
        known = "" if a.stage.complete else "已知"
        lead = f"截至{day}，{item.name}在{a.stage.name}的{known}{len(a.stage.regions)}个地区可以跨省办理。"
    else:
        lead = verdict_line(item, q, a)
    stage = a.stage or a.upcoming
    timeline = tuple(
        f"{s.name}（{format_date(s.start)}" + (f"至{format_date(s.end)}" if s.end else "起")
        + f"）：{s.region_names()}"
        for s in item.stages
    )  # fmt: skip
    return _Parts(
        lead,
        _regions(stage) if stage and not stage.nationwide else None,
        (Section(SectionKind.HISTORY, "各阶段地区", timeline),),
    )


def _compose_time_fees(item: Item, q: Question, a: Assessment) -> _Parts:
    unknown = "知识库暂无此项信息"
    facts = [f"办理时限：{item.time_limit or unknown}", f"收费：{item.fees or unknown}"]
    if item.validity:
        facts.append(f"有效期：{item.validity}")
    # The asked fact first: the fee when the question is about money, the validity likewise.
    asked = compact(q.text)
    if any(w in asked for w in ("收费", "费用", "钱", "免费")):
        facts[0], facts[1] = facts[1], facts[0]
    elif item.validity and "有效期" in asked:
        facts.insert(0, facts.pop())
    lead = f"{item.name}的{first_sentence(facts[0])}；{first_sentence(facts[1])}。"
    if not (item.time_limit and item.fees):
        lead += f"未列明的信息请向{item.department}或{HOTLINE}热线确认。"
    lead = fit(lead)
    return _Parts(lead, Section(SectionKind.FACTS, "时限和费用", tuple(facts)))


def _compose_department(item: Item, q: Question, a: Assessment) -> _Parts:
    lead = f"{item.name}由{item.department}负责，也可以拨打{HOTLINE}政务服务便民热线咨询。"
    return _Parts(lead, _channels(item))


def _compose_overview(item: Item, q: Question, a: Assessment) -> _Parts:
    if q.at or q.home or a.stage is None:
        return _Parts(verdict_line(item, q, a), _documents(item.documents_on(q.as_of)))
    summary = item.summary if q.as_of >= item.valid_from else a.stage.summary
    lead = fit(f"{item.name}：{summary}")
    cut = (
        (Section(SectionKind.NOTES, "概况", (summary,)),)
        if lead != f"{item.name}：{summary}"
        else ()
    )
    return _Parts(lead, _documents(item.documents_on(q.as_of)), cut)


_COMPOSERS = {
    QuestionKind.CAN: _compose_can,
    QuestionKind.DOCUMENTS: _compose_documents,
    QuestionKind.PROCESS: _compose_process,
    QuestionKind.REGIONS: _compose_regions,
    QuestionKind.TIME_FEES: _compose_time_fees,
    QuestionKind.DEPARTMENT: _compose_department,
    QuestionKind.OVERVIEW: _compose_overview,
}


MAX_LEAD = 120
_SENTENCE_END = "。；！？"


def first_sentence(text: str) -> str:
    """Up to the first full stop or semicolon (without it)."""
    for index, char in enumerate(text):
        if char in _SENTENCE_END:
            return text[:index]
    return text


def fit(text: str, limit: int = MAX_LEAD) -> str:
    """A lead of at most `limit` characters, cut after a whole sentence (or clause) when longer;
    the full text is always in the details as well."""
    if len(text) <= limit:
        return text
    cut = max(text.rfind(end, 0, limit) for end in _SENTENCE_END)
    if cut > limit // 3:
        return text[: cut + 1]
    cut = max(text.rfind(end, 0, limit - 2) for end in "，、")
    return (text[:cut] if cut > 0 else text[: limit - 2]) + "……"


def short_name(item: Item, limit: int = 12) -> str:
    """The item's name for a button: the name if short, else its longest short alias."""
    if len(item.name) <= limit:
        return item.name
    fitting = [a for a in item.aliases if 2 <= len(a) <= limit]
    return max(fitting, key=len) if fitting else item.name


def _follow_ups(kb: KnowledgeBase, item: Item, q: Question) -> tuple[Option, ...]:
    """The items that fitted less well come first (the person may have meant one of them),
    then the other kinds of question about this item, then related items."""
    out = [Option.item(i, short_name(kb.items[i])) for i in q.also if i in kb.items]
    out += [
        Option.ask(question.format(name=item.name), title)
        for k, (title, question) in _FOLLOW_UPS.items()
        if k is not q.kind
    ]
    out += [
        Option.ask(f"{kb.items[r].name}能跨省办吗？", short_name(kb.items[r]))
        for r in item.related[:2]
        if r in kb.items
    ]
    return tuple(out[:4])


# -- answers without one item ------------------------------------------------------------------


def not_covered(kb: KnowledgeBase, service: UncoveredService, as_of: dt.date) -> Reply:
    """A service the knowledge base does not hold: say so, name what was understood, refer."""
    refer = f"请向{service.refer}咨询，也可以" if service.refer else "请"
    related = [i for i in kb.items.values() if i.category == service.category][:2]
    return Reply(
        lead=(
            f"关于“{service.name}”，我这里还没有收录，不能给您准确的答复。"
            f"{refer}拨打{HOTLINE}政务服务便民热线。"
        ),
        options=(Option.call(),),
        follow_ups=tuple(Option.ask(f"{i.name}能跨省办吗？", short_name(i)) for i in related),
        sources=source_views(kb, service.sources),
        meta=Meta(as_of=as_of.isoformat(), topic=service.name),
    )


def clarify(kb: KnowledgeBase, candidates: list[Candidate], as_of: dt.date) -> Reply:
    """Several items fit: ask which one, offering at most MAX_CANDIDATES."""
    shown = candidates[:MAX_CANDIDATES]
    return Reply(
        lead="您是想问以下哪一项？",
        options=tuple(Option.item(c.item_id, short_name(kb.items[c.item_id])) for c in shown),
        body=Section(SectionKind.FACTS, "可能的事项", tuple(c.name for c in shown)),
        meta=Meta(as_of=as_of.isoformat(), needs=("item",)),
    )


def unknown_item(kb: KnowledgeBase, as_of: dt.date) -> Reply:
    categories = sorted({i.category for i in kb.items.values()})
    return Reply(
        lead=(
            "抱歉，我没能确定您想办哪项业务。您可以换个说法，例如“在深圳能领结婚证吗”，"
            f"也可以拨打{HOTLINE}政务服务便民热线。"
        ),
        body=Section(SectionKind.FACTS, "我可以解答这些方面的跨省通办", tuple(categories)),
        options=(Option.call(),),
        follow_ups=(
            Option.ask("在外地能领结婚证吗？", "外地领结婚证"),
            Option.ask("异地就医怎么备案？", "异地就医备案"),
            Option.ask("驾驶证可以异地换领吗？", "异地换驾驶证"),
        ),
        meta=Meta(as_of=as_of.isoformat(), needs=("item",)),
    )


def programme_answer(kb: KnowledgeBase, as_of: dt.date) -> Reply:
    p = kb.programme
    if p is None:
        return unknown_item(kb, as_of)
    batches = "、".join(f"{b.name}{b.count}项" for b in p.batches)
    lead = f"{p.name}：全国高频事项清单共{p.total_items}项（{batches}）。"
    facts = [
        f"{e.name}" + (f"（{e.ref}）" if e.ref else "") + f"新增{e.count}项。"
        for e in p.expansions
        if e.due is None or e.due <= as_of
    ]
    modes = tuple(f"{m.name}：{m.summary}" for m in p.modes if m.start <= as_of)
    notes = [p.summary] + [f.text for f in p.facts if f.start <= as_of]
    notes += [f"{b.name}示例：{'、'.join(b.examples)}" for b in p.batches if b.examples]
    ids = [s for group in (p.batches, p.expansions, p.modes) for e in group for s in e.sources]
    ids += [s for f in p.facts if f.start <= as_of for s in f.sources]
    return Reply(
        lead=lead,
        body=Section(SectionKind.FACTS, "办理方式", modes) if modes else None,
        sections=tuple(
            _merge(
                [
                    Section(SectionKind.FACTS, "扩围", tuple(facts)),
                    Section(SectionKind.NOTES, "说明", tuple(notes)),
                ]
            )
        ),
        follow_ups=(
            Option.ask("哪些地区有区域通办？", "区域通办"),
            Option.ask("在外地能领结婚证吗？", "外地领结婚证"),
        ),
        sources=source_views(kb, ids),
        meta=Meta(kind=QuestionKind.OVERVIEW.value, as_of=as_of.isoformat()),
    )


def scheme_answer(kb: KnowledgeBase, scheme: Scheme, as_of: dt.date) -> Reply:
    members = tuple(p.short_label for p in scheme.members)
    facts = [f for f in scheme.facts if f.start <= as_of]
    if scheme.start > as_of:
        lead = (
            f"{scheme.name}自{format_date(scheme.start)}起实施，截至{format_date(as_of)}尚未启动。"
        )
    else:
        lead = f"{scheme.name}：{scheme.summary}（{format_date(scheme.start)}启动）"
    notes = [f.text for f in facts]
    if scheme.item_count is not None:
        notes.insert(0, f"事项数量：{scheme.item_count}项")
    ids = list(scheme.sources) + [s for f in facts for s in f.sources]
    return Reply(
        lead=lead,
        body=Section(SectionKind.REGIONS, "成员", members),
        sections=tuple(_merge([Section(SectionKind.NOTES, "说明", tuple(notes))])),
        follow_ups=(Option.ask("跨省通办一共有多少项？", "一共多少项"),),
        sources=source_views(kb, ids),
        meta=Meta(kind=QuestionKind.REGIONS.value, as_of=as_of.isoformat()),
    )


def answer(kb: KnowledgeBase, meaning: Meaning) -> Reply:
    """The reply to what a message was understood to mean."""
    if isinstance(meaning, Question):
        return answer_item(kb, meaning)
    if isinstance(meaning, NotCovered):
        return not_covered(kb, meaning.service, meaning.as_of)
    if isinstance(meaning, Overview):
        if meaning.scheme is not None:
            return scheme_answer(kb, meaning.scheme, meaning.as_of)
        return programme_answer(kb, meaning.as_of)
    if isinstance(meaning, Clarification) and meaning.candidates:
        return clarify(kb, list(meaning.candidates), meaning.as_of)
    return unknown_item(kb, meaning.as_of)
