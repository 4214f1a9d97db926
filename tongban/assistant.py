"""The Tongban facade: load the knowledge once, then answer questions in text or structured form.

Channels, Rasa actions and the hotline command all come through here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from tongban.answers import answer, answer_item
from tongban.dates import parse_date
from tongban.errors import BadArgument
from tongban.kb import KnowledgeBase, load_knowledge
from tongban.kb.model import Scheme, UncoveredService
from tongban.meaning import Question, QuestionKind
from tongban.regions import Place, Role
from tongban.reply import Reply
from tongban.resolve import Candidate, ItemResolver, clear_winner, find_by_sound, term_key
from tongban.text import compact
from tongban.understanding import Hints, Memory, understand


def _term(matched: str) -> str:
    return compact(matched.replace("+", ""))


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
            ((term_key(p), s) for s in kb.uncovered.values() for p in s.phrases),
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
        key = term_key(text)
        return next(((s, p) for p, s in self._uncovered if p and p in key), None)

    def not_covered_service(
        self, text: str, candidates: list[Candidate]
    ) -> UncoveredService | None:
        """The not-held service the message is about, unless an item's own name or alias in the
        text is at least as specific ("公积金转移" beats 住房公积金 words; "买房提取公积金" is
        the item's). Only a name written in the message counts: words shared with some alias
        (生孩子 with 外地生孩子出生证) do not outweigh the service the message names."""
        found = self.uncovered_in(text)
        if found is None:
            return None
        service, phrase = found
        best = clear_winner(candidates)
        if best is None:
            return service
        term = _term(best.matched)
        written = term in term_key(text) or find_by_sound(term, term_key(text)) >= 0
        return None if written and len(term) > len(phrase) else service

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
        """Answer one free-text question; explicit places, date, kind and item win over the
        text. The same two steps as a conversation's turn: understand, then answer."""
        hints = Hints(
            home=home if isinstance(home, Place) else self.place(home),
            at=at if isinstance(at, Place) else self.place(at),
            as_of=parse_date(as_of) if as_of else None,
            kind=QuestionKind(kind) if kind else None,
            item=item,
        )
        return answer(self.kb, understand(self, text or "", Memory(), hints).meaning)

    def exclusion(self, item_id: str | None, text: str) -> str | None:
        """The case the item explicitly does not cover that the text is about (子女投靠父母)."""
        item = self.kb.items.get(item_id)
        key = compact(text)
        for exclusion in item.not_covered if item else ():
            if any(compact(p) in key for p in exclusion.phrases):
                return exclusion.text
        return None
