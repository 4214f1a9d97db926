"""Understand a message once: `understand(text, memory, hints)` -> what it means, and what to
remember. All rules of precedence between the text, the NLU, explicit choices and the
conversation's memory are here; `tongban.answers.answer` then words the reply.

Precedence, highest first:
- date: an explicit date (hotline `--as-of`), the message's metadata, a policy date in the text,
  the remembered date, the server's date;
- places: explicit places, places the text names with its own cues (户口在, 在…打工), the NLU's
  place entities, the remembered places;
- item: an explicit item (a tapped option), a service the knowledge base does not hold, the NLU's
  item, one clear candidate in the text, the remembered item (a follow-up that names only a place
  or a date), one candidate clearly ahead, a regional scheme, a menu of plausible candidates, the
  programme, nothing;
- question kind: the NLU's intent, explicit kind, the text's wording, the remembered kind; without
  one, "can I" when places are known, else an overview.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from tongban.answers import asked_fact
from tongban.dates import message_as_of, parse_date, parse_loose_date
from tongban.errors import BadArgument
from tongban.kb.model import Item
from tongban.meaning import Clarification, Meaning, NotCovered, Overview, Question, QuestionKind
from tongban.questions import detect_kind
from tongban.regions import Place
from tongban.resolve import Candidate, clear_winner
from tongban.text import compact, normalise

if TYPE_CHECKING:
    from tongban.assistant import Tongban

INTENT_KINDS = {
    "ask_can": QuestionKind.CAN,
    "ask_documents": QuestionKind.DOCUMENTS,
    "ask_process": QuestionKind.PROCESS,
    "ask_regions": QuestionKind.REGIONS,
    "ask_time_fees": QuestionKind.TIME_FEES,
    "ask_department": QuestionKind.DEPARTMENT,
    "ask_overview": QuestionKind.OVERVIEW,
}
# A candidate this far below the best is offered only if it is of the same category.
PLAUSIBLE_MARGIN = 0.12
MIN_OFFER = 0.6  # below this, a menu would offer guesses: say what can be asked instead
LEAD_SCORE, LEAD_MARGIN = 0.65, 0.10
MAX_ALSO = 2
# A name this long in the message is not overruled by a fact of another item; a fact phrasing
# this long, word for word, is what the message asks.
PLAIN_NAME_LEN, PLAIN_ASK_LEN = 5, 4
# "按2022年3月的政策", "2022年的时候": a date that sets which rules apply. A bare year ("我2019年领的
# 结婚证丢了") is about the person's past, not the policy date, and is left alone.
_POLICY_DATE_CUE = re.compile(
    r"(按照?|依照|根据|截至|截止|在)\s*\d{4}\s*[-/.年]|\d{4}\s*[-/.年][^，。？！,?!]{0,8}(政策|规定|时候|那时|当时|那天)"
)
_PROGRAMME_CUES = (
    "跨省通办",
    "通办",
    "多少项",
    "哪些事项",
    "哪些业务",
    "什么业务",
    "能办什么",
    "哪些事",
)


@dataclass(frozen=True)
class Memory:
    """What the conversation remembers between turns (Rasa slots hold it)."""

    item: str | None = None
    home: str | None = None
    at: str | None = None
    kind: str | None = None
    as_of: str | None = None


@dataclass(frozen=True)
class Hints:
    """What is known besides the text: the NLU's intent and entities, the message's metadata, and
    explicit choices (a hotline agent's places, date, kind or item)."""

    intent: str | None = None
    entities: tuple[Mapping[str, Any], ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)
    home: Place | None = None
    at: Place | None = None
    as_of: dt.date | None = None
    kind: QuestionKind | None = None
    item: str | None = None


@dataclass(frozen=True)
class Understood:
    meaning: Meaning
    memory: Memory
    context_only: bool = False  # the same item and kind as before, with only places or date new


def understand(
    tongban: Tongban, text: str, memory: Memory = Memory(), hints: Hints = Hints()
) -> Understood:
    text = text or ""
    before = memory
    as_of, memory = policy_date(text, hints, memory)
    found_home, found_at = _places_named(tongban, text, hints)
    if found_home:
        memory = replace(memory, home=found_home.label)
    if found_at:
        memory = replace(memory, at=found_at.label)
    kind = _kind(text, hints, memory)
    home, at = _remembered_place(tongban, memory.home), _remembered_place(tongban, memory.at)
    # A place or a policy date alone ("我在广州", "按2022年的政策呢") keeps the item.
    names_context = bool(found_home or found_at) or memory.as_of != before.as_of
    choice = _item(tongban, text, memory, hints, names_context, as_of)
    if not isinstance(choice, tuple):  # not one item: a menu, not covered, an overview
        kept_kind = kind.value if kind else memory.kind
        item = None if isinstance(choice, NotCovered) else memory.item
        return Understood(choice, replace(memory, kind=kept_kind, item=item))
    item_id, also = choice
    excluded = tongban.exclusion(item_id, text)
    if excluded:
        kind = QuestionKind.CAN
    elif kind is None:
        kind = QuestionKind.CAN if (home or at) else QuestionKind.OVERVIEW
    memory = replace(memory, item=item_id, kind=kind.value)
    question = Question(kind, item_id, as_of, home, at, excluded, text, also)
    return Understood(question, memory, _only_context_changed(before, memory))


# -- date, places, kind --------------------------------------------------------------------------


def policy_date(text: str, hints: Hints, memory: Memory) -> tuple[dt.date, Memory]:
    """The date whose rules apply. An explicit date or the metadata wins for this message; a
    date the user typed is remembered."""
    said_date = None
    if text and _POLICY_DATE_CUE.search(normalise(text)):
        # The whole text first: the NLU may cut "2023-03-15" into pieces.
        said_date = parse_loose_date(text) or parse_loose_date(_entity(hints, "date") or "")
    if said_date is not None:
        memory = replace(memory, as_of=said_date.isoformat())
    if hints.as_of is not None:
        return hints.as_of, memory
    if hints.metadata and hints.metadata.get("as_of"):
        return message_as_of(hints.metadata), memory
    if memory.as_of:
        try:
            return parse_date(memory.as_of), memory
        except BadArgument:
            memory = replace(memory, as_of=None)
    return message_as_of(None), memory


def _places_named(tongban: Tongban, text: str, hints: Hints) -> tuple[Place | None, Place | None]:
    """The places this message gives: explicit ones, then the text's own cues (户口在, 在…打工)
    decide whose place it is, the NLU's roles only fill in what the text leaves open."""
    found = tongban.places_in(text)
    home = hints.home or found.home or _entity_place(tongban, hints, "home")
    at = hints.at or found.at or _entity_place(tongban, hints, "at")
    return home, at


def _kind(text: str, hints: Hints, memory: Memory) -> QuestionKind | None:
    kind = INTENT_KINDS.get(hints.intent or "") or hints.kind or detect_kind(text)
    if kind is None and memory.kind in QuestionKind._value2member_map_:
        return QuestionKind(memory.kind)
    return kind


def _entity(hints: Hints, name: str, role: str | None = None) -> str | None:
    for entity in hints.entities:
        if entity.get("entity") == name and (role is None or entity.get("role") == role):
            value = entity.get("value")
            if value:
                return str(value)
    return None


def _entity_place(tongban: Tongban, hints: Hints, role: str) -> Place | None:
    value = _entity(hints, "place", role)
    return tongban.regions.resolve(value) if value else None


def _remembered_place(tongban: Tongban, label: str | None) -> Place | None:
    return tongban.regions.resolve(label) if label else None


# -- the item ------------------------------------------------------------------------------------


def _item(
    tongban: Tongban,
    text: str,
    memory: Memory,
    hints: Hints,
    names_context: bool,
    as_of: dt.date,
) -> tuple[str, tuple[str, ...]] | Clarification | NotCovered | Overview:
    """The item and the others worth offering, or what the message is about instead."""
    items = tongban.kb.items
    if hints.item is not None:
        return hints.item, ()
    value = _entity(hints, "item")
    if text.startswith("/") and value in items:  # a tapped option names its item: no second guess
        return value, ()
    text_candidates = tongban.candidates(text)
    service = tongban.not_covered_service(text, text_candidates)
    if service is not None:
        return NotCovered(service, as_of)
    if value in items:
        # The NLU tags a span (领证 in "长沙办理居住证要多久才能领证"); an item's whole name
        # written in the text is stronger evidence.
        written = clear_winner(text_candidates)
        if written is not None and written.item_id != value and _written(written, text):
            value = written.item_id
        return _asked_about(tongban, value, text, as_of)
    candidates = tongban.candidates(value) if value else text_candidates
    best = clear_winner(candidates)
    if best is not None:
        return _asked_about(tongban, best.item_id, text, as_of)
    # "户口在江西" after a marriage question gives a place, not a new item: words like 户口 or
    # 医保 around a place (or 政策 around a date) must not replace the item being discussed.
    if memory.item in items and (not candidates or (not value and names_context)):
        return memory.item, ()
    offered = plausible(tongban, text_candidates)
    best = (
        clear_winner(offered)
        or _named(tongban, text, offered)
        or _only_one_answers(tongban, text, offered, as_of)
    )
    if best is not None:
        return _asked_about(tongban, best.item_id, text, as_of, offered)
    if leads(offered):
        return _asked_about(tongban, offered[0].item_id, text, as_of, offered)
    scheme = tongban.scheme_in(text)
    if scheme is not None:
        return Overview(as_of, scheme)
    if offered and offered[0].score >= MIN_OFFER:
        return Clarification(tuple(offered), as_of)
    if any(cue in compact(text) for cue in _PROGRAMME_CUES):
        return Overview(as_of)
    return Clarification((), as_of)


def _named(tongban: Tongban, text: str, offered: list[Candidate]) -> Candidate | None:
    """The one offered item the message names by a detail of its own (高血压 -> 门诊慢特病)."""
    named = tongban.resolver.named_details(text)
    chosen = [c for c in offered if c.item_id in named]
    return chosen[0] if len(chosen) == 1 else None


def _only_one_answers(
    tongban: Tongban, text: str, offered: list[Candidate], as_of: dt.date
) -> Candidate | None:
    """Of the items that fit about equally, the one holding a fact for what was asked
    ("社保卡…必须本人才可以挂失吗": the loss report says who may report)."""
    holders = [c for c in offered if asked_fact(tongban.kb.items[c.item_id], text, as_of)]
    return holders[0] if len(holders) == 1 else None


def _asked_about(
    tongban: Tongban,
    item_id: str,
    text: str,
    as_of: dt.date,
    offered: list[Candidate] = (),
) -> tuple[str, tuple[str, ...]]:
    """The item, unless the message names it only loosely, the item holds no fact for what was
    asked, and exactly one other item of its area holds a fact asked in so many words
    ("外地嫁上海几年可以上户口" says 上户口, but asks about 落户 through marriage). The item that
    lost is offered as a follow-up."""
    items = tongban.kb.items
    others = [c.item_id for c in offered if c.item_id != item_id]
    kept = item_id, tuple(others[:MAX_ALSO])
    if (
        _named_plainly(tongban, item_id, text)
        or asked_fact(items[item_id], text, as_of)
        or item_id in tongban.resolver.named_details(text)
    ):
        return kept
    holders = [
        i.id
        for i in items.values()
        if i.category == items[item_id].category
        and i.id != item_id
        and _asks_in_words(i, text, as_of)
    ]
    if len(holders) != 1:
        return kept
    rest = [i for i in others if i != holders[0]]
    return holders[0], tuple([item_id, *rest][:MAX_ALSO])


def _written(candidate: Candidate, text: str) -> bool:
    """The candidate's matched name or alias stands in the text as written (not only its words)."""
    return "+" not in candidate.matched and compact(candidate.matched) in compact(text)


def _named_plainly(tongban: Tongban, item_id: str, text: str) -> bool:
    """The message contains the item's name or a long alias of it (临时身份证, 养老保险转到)."""
    key = compact(text)
    item = tongban.kb.items[item_id]
    return any(len(t) >= PLAIN_NAME_LEN and compact(t) in key for t in (item.name, *item.aliases))


def _asks_in_words(item: Item, text: str, as_of: dt.date) -> bool:
    """One of the item's facts is asked for with one of its phrasings, word for word; a phrasing
    that is only a kind of question (怎么操作, 需要什么) says nothing about the item."""
    key = compact(text)
    return any(
        len(ask) >= PLAIN_ASK_LEN and compact(ask) in key and detect_kind(ask) is None
        for fact in item.facts
        if fact.start <= as_of
        for ask in fact.asks
    )


def plausible(tongban: Tongban, candidates: list[Candidate]) -> list[Candidate]:
    """Candidates worth offering: near the best score, or of the best one's category."""
    if not candidates:
        return []
    top = candidates[0]
    tied = [c for c in candidates if c.score == top.score]
    if len(tied) >= 3 and len(compact(top.matched.replace("+", ""))) <= 2:
        return []  # one generic word ("领", "外地") shared by many items says nothing
    category = tongban.kb.items[top.item_id].category
    return [
        c
        for c in candidates
        if top.score - c.score <= PLAUSIBLE_MARGIN
        or tongban.kb.items[c.item_id].category == category
    ]


def leads(candidates: list[Candidate]) -> bool:
    """Not certain, but clearly ahead of the rest."""
    if not candidates or candidates[0].score < LEAD_SCORE:
        return False
    runner_up = candidates[1].score if len(candidates) > 1 else 0.0
    return candidates[0].score - runner_up >= LEAD_MARGIN


def _only_context_changed(before: Memory, after: Memory) -> bool:
    """Same item and question kind as the last turn, with only the places or the date new."""
    return (
        before.item is not None
        and before.item == after.item
        and before.kind == after.kind
        and (before.home, before.at, before.as_of) != (after.home, after.at, after.as_of)
    )
