"""The Tongban facade: load the knowledge once, then answer questions in text or structured form.

Channels, Rasa actions and the hotline command all come through here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from pathlib import Path

from tongban.answers import (
    Question,
    QuestionKind,
    answer_item,
    clarify,
    not_covered,
    programme_answer,
    scheme_answer,
    short_name,
    unknown_item,
)
from tongban.dates import parse_date, server_as_of
from tongban.errors import BadArgument
from tongban.kb import KnowledgeBase, load_knowledge
from tongban.kb.model import Scheme, UncoveredService
from tongban.questions import detect_kind
from tongban.regions import Place, Role
from tongban.reply import Option, Reply
from tongban.resolve import Candidate, ItemResolver, is_confident
from tongban.text import compact

# A candidate this far below the best is offered only if it is of the same category.
PLAUSIBLE_MARGIN = 0.12
MIN_OFFER = 0.6  # below this, a menu would offer guesses: say what can be asked instead
LEAD_SCORE, LEAD_MARGIN = 0.65, 0.15


def leads(candidates: list[Candidate]) -> bool:
    """Not certain, but clearly ahead of the rest."""
    if not candidates or candidates[0].score < LEAD_SCORE:
        return False
    runner_up = candidates[1].score if len(candidates) > 1 else 0.0
    return candidates[0].score - runner_up >= LEAD_MARGIN


def _term(matched: str) -> str:
    return compact(matched.replace("+", ""))


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
class Places:
    home: Place | None
    at: Place | None


class Tongban:
    """Built once per process (the knowledge base and indexes are immutable afterwards)."""

    def __init__(self, kb: KnowledgeBase):
        self.kb = kb
        self.regions = kb.regions
        self.resolver = ItemResolver(kb.items)
        # Phrases of services the knowledge base does not hold, longest first.
        self._uncovered = sorted(
            ((compact(p), s) for s in kb.uncovered.values() for p in s.phrases),
            key=lambda pair: -len(pair[0]),
        )
        self._scheme_names = sorted(
            ((compact(n), s) for s in kb.schemes.values() for n in (s.name, *s.aliases)),
            key=lambda pair: -len(pair[0]),
        )

    @classmethod
    def load(cls, root: Path | str | None = None, warm: bool = False) -> Tongban:
        tongban = cls(load_knowledge(root))
        if warm:
            tongban.resolver.warm_up()
        return tongban

    # -- understanding -------------------------------------------------------------------------

    def place(self, name: str | None) -> Place | None:
        """Resolve an explicit place argument; unknown names are a BadArgument."""
        if name is None or not name.strip():
            return None
        place = self.regions.resolve(name)
        if place is None:
            raise BadArgument(f"没有找到地名“{name.strip()}”，请写省或城市名称，例如 广东 或 深圳")
        return place

    def places_in(self, text: str) -> Places:
        """The 户籍地 and 所在地 mentioned in a message (the last of each wins)."""
        home = at = None
        for mention in self.regions.find(text):
            if mention.role is Role.HOME:
                home = mention.place
            else:
                at = mention.place
        return Places(home, at)

    def candidates(self, text: str, limit: int = 5) -> list[Candidate]:
        return self.resolver.candidates(text, limit)

    def uncovered_in(self, text: str) -> tuple[UncoveredService, str] | None:
        """The not-held service a message names (its longest phrase), or None."""
        key = compact(text)
        return next(((s, p) for p, s in self._uncovered if p and p in key), None)

    def not_covered_service(
        self, text: str, candidates: list[Candidate]
    ) -> UncoveredService | None:
        """The not-held service the message is about, unless an item's own name or alias in the
        text is at least as specific ("公积金转移" beats 住房公积金 words; "买房提取公积金" is
        the item's)."""
        found = self.uncovered_in(text)
        if found is None:
            return None
        service, phrase = found
        best = candidates[0] if candidates else None
        if best and is_confident(candidates) and len(_term(best.matched)) > len(phrase):
            return None
        return service

    def plausible(self, candidates: list[Candidate]) -> list[Candidate]:
        """Candidates worth offering: near the best score, or of the best one's category."""
        if not candidates:
            return []
        top = candidates[0]
        tied = [c for c in candidates if c.score == top.score]
        if len(tied) >= 3 and len(_term(top.matched)) <= 2:
            return []  # one generic word ("领", "外地") shared by many items says nothing
        category = self.kb.items[top.item_id].category
        return [
            c
            for c in candidates
            if top.score - c.score <= PLAUSIBLE_MARGIN
            or self.kb.items[c.item_id].category == category
        ]

    def scheme_in(self, text: str) -> Scheme | None:
        key = compact(text)
        return next((s for name, s in self._scheme_names if name and name in key), None)

    # -- answering -----------------------------------------------------------------------------

    def answer(self, question: Question) -> Reply:
        if question.item_id not in self.kb.items:
            raise BadArgument(f"没有编号为“{question.item_id}”的事项，可用 tongban search 查找")
        return answer_item(self.kb, question)

    def ask(
        self,
        text: str,
        home: str | Place | None = None,
        at: str | Place | None = None,
        as_of: dt.date | str | None = None,
        kind: QuestionKind | str | None = None,
        item: str | None = None,
    ) -> Reply:
        """Answer a free-text question; explicit places, date, kind and item win over the text."""
        day = parse_date(as_of) if as_of else server_as_of()
        found = self.places_in(text or "")
        home_place = home if isinstance(home, Place) else self.place(home) or found.home
        at_place = at if isinstance(at, Place) else self.place(at) or found.at
        question_kind = QuestionKind(kind) if kind else detect_kind(text or "")
        item_id = item
        if item_id is None:
            candidates = self.candidates(text or "")
            uncovered = self.not_covered_service(text or "", candidates)
            if uncovered is not None:
                return not_covered(self.kb, uncovered, day)
            candidates = self.plausible(candidates)
            if is_confident(candidates):
                item_id = candidates[0].item_id
            elif leads(candidates):
                # One clearly ahead: answer it, and offer the others as follow-ups.
                reply = self.ask(text, home_place, at_place, day, kind, candidates[0].item_id)
                others = tuple(
                    Option.item(c.item_id, short_name(self.kb.items[c.item_id]))
                    for c in candidates[1:3]
                )
                return replace(reply, follow_ups=(others + reply.follow_ups)[:4])
            else:
                scheme = self.scheme_in(text or "")
                if scheme is not None:
                    return scheme_answer(self.kb, scheme, day)
                if candidates and candidates[0].score >= MIN_OFFER:
                    return clarify(self.kb, candidates, day)
                if any(cue in compact(text or "") for cue in _PROGRAMME_CUES):
                    return programme_answer(self.kb, day)
                return unknown_item(self.kb, day)
        excluded = self._exclusion(item_id, text or "")
        if question_kind is None:
            question_kind = (
                QuestionKind.CAN if (home_place or at_place or excluded) else QuestionKind.OVERVIEW
            )
        if excluded:
            question_kind = QuestionKind.CAN
        return self.answer(
            Question(question_kind, item_id, day, home_place, at_place, excluded, text or "")
        )

    def _exclusion(self, item_id: str | None, text: str) -> str | None:
        item = self.kb.items.get(item_id)
        key = compact(text)
        for exclusion in item.not_covered if item else ():
            if any(compact(p) in key for p in exclusion.phrases):
                return exclusion.text
        return None
