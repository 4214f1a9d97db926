"""One conversational turn: what the NLU understood plus what we remember -> a reply and new memory.

Channel-free and Rasa-free, so the Rasa action, a WeChat adapter and tests share the same logic.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from tongban.answers import QuestionKind, not_covered, unknown_item
from tongban.assistant import Places, Tongban
from tongban.dates import message_as_of, parse_date, parse_loose_date
from tongban.errors import BadArgument
from tongban.questions import detect_kind
from tongban.regions import Place
from tongban.reply import Reply, SectionKind
from tongban.resolve import Candidate, is_confident
from tongban.text import compact, normalise

INTENT_KINDS = {
    "ask_can": QuestionKind.CAN,
    "ask_documents": QuestionKind.DOCUMENTS,
    "ask_process": QuestionKind.PROCESS,
    "ask_regions": QuestionKind.REGIONS,
    "ask_time_fees": QuestionKind.TIME_FEES,
    "ask_department": QuestionKind.DEPARTMENT,
    "ask_overview": QuestionKind.OVERVIEW,
}
DETAILS_INTENT = "ask_details"
# What a follow-up that changes only the place or date says instead of repeating the list.
_SAME_AS_BEFORE = {
    SectionKind.DOCUMENTS: "要带的材料与上面相同。",
    SectionKind.STEPS: "办理步骤与上面相同。",
    SectionKind.REGIONS: "地区名单与上面相同。",
}
# "按2022年3月的政策", "2022年的时候": a date that sets which rules apply. A bare year ("我2019年领的
# 结婚证丢了") is about the person's past, not the policy date, and is left alone.
_POLICY_DATE_CUE = re.compile(
    r"(按照?|依照|根据|截至|截止|在)\s*\d{4}\s*[-/.年]|\d{4}\s*[-/.年][^，。？！,?!]{0,8}(政策|规定|时候|那时|当时|那天)"
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
class Turn:
    text: str
    intent: str | None = None
    entities: tuple[Mapping[str, Any], ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Response:
    """A turn's outcome: the reply, what to remember, and whether the details were asked for."""

    reply: Reply
    memory: Memory
    expanded: bool = False


def _entity(turn: Turn, name: str, role: str | None = None) -> str | None:
    for entity in turn.entities:
        if entity.get("entity") == name and (role is None or entity.get("role") == role):
            value = entity.get("value")
            if value:
                return str(value)
    return None


def _place(tongban: Tongban, value: str | None) -> Place | None:
    return tongban.regions.resolve(value) if value else None


class Conversation:
    """Turns user turns into replies, remembering item, places, question kind and date."""

    def __init__(self, tongban: Tongban):
        self.tongban = tongban

    def respond(self, turn: Turn, memory: Memory) -> Response:
        if turn.intent == DETAILS_INTENT:
            return self.details(turn, memory)
        text = turn.text or ""
        if not compact(text):
            return Response(unknown_item(self.tongban.kb, self._as_of(turn, memory)[0]), memory)
        before = memory
        as_of, memory = self._as_of(turn, memory)
        found = self.tongban.places_in(text)
        memory = self._places(turn, memory, found)
        kind = INTENT_KINDS.get(turn.intent or "") or self._kind_from_text(text, memory)
        text_candidates = self.tongban.candidates(text)
        if not text.startswith("/"):  # a tapped option names its item: no second guess
            service = self.tongban.not_covered_service(text, text_candidates)
            if service is not None:
                memory = replace(memory, item=None, kind=kind.value if kind else None)
                return Response(not_covered(self.tongban.kb, service, as_of), memory)
        # A place or a policy date alone ("我在广州", "按2022年的政策呢") keeps the item.
        names_context = found != Places(None, None) or memory.as_of != before.as_of
        item_id = self._item(turn, memory, names_context, text_candidates)
        home, at = _place(self.tongban, memory.home), _place(self.tongban, memory.at)
        if item_id is None:
            reply = self.tongban.ask(text, home=home, at=at, as_of=as_of, kind=kind)
            if reply.meta.item:  # the engine found it in the text after all
                memory = replace(memory, item=reply.meta.item, kind=reply.meta.kind)
            elif kind:
                memory = replace(memory, kind=kind.value)
            return Response(reply, memory)
        if kind is None:
            kind = QuestionKind.CAN if (home or at) else QuestionKind.OVERVIEW
        memory = replace(memory, item=item_id, kind=kind.value)
        reply = self.tongban.ask(text, home=home, at=at, as_of=as_of, kind=kind, item=item_id)
        if _only_context_changed(before, memory):
            reply = self._what_differs(reply, before, turn)
        return Response(reply, memory)

    def details(self, turn: Turn, memory: Memory) -> Response:
        """ "详情": the last question again, with its details and sources shown."""
        if memory.item not in self.tongban.kb.items:
            return Response(unknown_item(self.tongban.kb, self._as_of(turn, memory)[0]), memory)
        return Response(self._recall(memory, turn), memory, expanded=True)

    def _recall(self, memory: Memory, turn: Turn) -> Reply:
        """The answer to the remembered question, as it was given."""
        as_of, _ = self._as_of(Turn("", metadata=turn.metadata), memory)
        kind = QuestionKind(memory.kind) if memory.kind in QuestionKind._value2member_map_ else None
        return self.tongban.ask(
            "",
            home=_place(self.tongban, memory.home),
            at=_place(self.tongban, memory.at),
            as_of=as_of,
            kind=kind or QuestionKind.OVERVIEW,
            item=memory.item,
        )

    def _what_differs(self, reply: Reply, before: Memory, turn: Turn) -> Reply:
        """A follow-up that changes only the place or the date: say what differs, and do not
        repeat a list that is the same as in the previous answer."""
        previous = self._recall(before, turn)
        if reply.body is None or reply.body != previous.body:
            return reply
        same = _SAME_AS_BEFORE.get(reply.body.kind)
        return replace(reply, body=None, lead=reply.lead + same) if same else reply

    def fallback(self, turn: Turn, memory: Memory) -> Response:
        """Low NLU confidence: answer if the text names an item after all, else apologise."""
        if compact(turn.text) and self.tongban.candidates(turn.text):
            return self.respond(turn, memory)
        return Response(unknown_item(self.tongban.kb, self._as_of(turn, memory)[0]), memory)

    # -- understanding the turn ----------------------------------------------------------------

    def _as_of(self, turn: Turn, memory: Memory) -> tuple[dt.date, Memory]:
        """Metadata wins for this message; a date the user typed is remembered."""
        said_date = None
        if turn.text and _POLICY_DATE_CUE.search(normalise(turn.text)):
            # The whole text first: the NLU may cut "2023-03-15" into pieces.
            said_date = parse_loose_date(turn.text) or parse_loose_date(_entity(turn, "date") or "")
        if said_date is not None:
            memory = replace(memory, as_of=said_date.isoformat())
        if turn.metadata and turn.metadata.get("as_of"):
            return message_as_of(turn.metadata), memory
        if memory.as_of:
            try:
                return parse_date(memory.as_of), memory
            except BadArgument:
                memory = replace(memory, as_of=None)
        return message_as_of(None), memory

    def _places(self, turn: Turn, memory: Memory, found: Places) -> Memory:
        """Places named now replace remembered ones; the text's own cues (户口在, 在…打工) decide
        whose place it is, the NLU's roles only fill in what the text leaves open."""
        home = found.home or _place(self.tongban, _entity(turn, "place", "home"))
        at = found.at or _place(self.tongban, _entity(turn, "place", "at"))
        if home:
            memory = replace(memory, home=home.label)
        if at:
            memory = replace(memory, at=at.label)
        return memory

    def _kind_from_text(self, text: str, memory: Memory) -> QuestionKind | None:
        detected = detect_kind(text)
        if detected:
            return detected
        return QuestionKind(memory.kind) if memory.kind in QuestionKind._value2member_map_ else None

    def _item(
        self, turn: Turn, memory: Memory, names_context: bool, text_candidates: list[Candidate]
    ) -> str | None:
        """The NLU's item entity (mapped to an id by synonyms), else the text, else memory."""
        value = _entity(turn, "item")
        if value and value in self.tongban.kb.items:
            return value
        candidates = self.tongban.candidates(value) if value else text_candidates
        if is_confident(candidates):
            return candidates[0].item_id
        remembered = memory.item in self.tongban.kb.items
        # "户口在江西" after a marriage question gives a place, not a new item: words like 户口 or
        # 医保 around a place (or 政策 around a date) must not replace the item being discussed.
        if remembered and (not candidates or (not value and names_context)):
            return memory.item
        return None


def _only_context_changed(before: Memory, after: Memory) -> bool:
    """Same item and question kind as the last turn, with only the places or the date new."""
    return (
        before.item is not None
        and before.item == after.item
        and before.kind == after.kind
        and (before.home, before.at, before.as_of) != (after.home, after.at, after.as_of)
    )
