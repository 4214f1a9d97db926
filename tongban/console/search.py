"""The console's item search: names, aliases, free Chinese text, pinyin initials and typos, ranked.

Builds on the assistant's own resolver (`tongban.resolve.ItemResolver`: whole aliases, word
overlap, homophone typos) and adds what an agent types at a keyboard: part of a name (驾驶证),
pinyin or its initials (jhdj -> 结婚登记, jiehun), and near misses in characters or sound
(rapidfuzz). One index, built once; a query takes well under a millisecond or two.
"""

from __future__ import annotations

import re
import time
import unicodedata
from dataclasses import dataclass

from pypinyin import Style, lazy_pinyin
from rapidfuzz import fuzz, process

from tongban.assistant import Tongban
from tongban.text import compact

MAX_QUERY = 100
_LETTERS = re.compile(r"[a-z]+")
_PUNCT = re.compile(r"[\s\W_]+")
_NOISE = re.compile(r"（[^）]*）|\([^)]*\)")  # "(跨省通办)" and the like in official names
FUZZY_MIN = 72  # rapidfuzz ratio below which a near miss is not offered


@dataclass(frozen=True)
class Hit:
    item_id: str
    name: str
    category: str
    score: float
    matched: str
    how: str  # alias, words, pinyin, initials, part, typo


@dataclass(frozen=True)
class _Term:
    item_id: str
    text: str  # as written
    key: str  # compacted, punctuation removed
    pinyin: str  # "jiehundengji"
    initials: str  # "jhdj"


def _key(text: str) -> str:
    return _PUNCT.sub("", compact(_NOISE.sub("", text)))


def _fold_query(text: str) -> str:
    return unicodedata.normalize("NFKC", text or "").strip().lower()[:MAX_QUERY]


class ConsoleSearch:
    def __init__(self, tongban: Tongban):
        self.tongban = tongban
        tongban.resolver.warm_up()
        terms: list[_Term] = []
        seen: set[tuple[str, str]] = set()
        for item in tongban.kb.items.values():
            for text in (item.name, *item.aliases):
                key = _key(text)
                if len(key) < 2 or (item.id, key) in seen:
                    continue
                seen.add((item.id, key))
                syllables = lazy_pinyin(key, errors="ignore")
                initials = "".join(lazy_pinyin(key, style=Style.FIRST_LETTER, errors="ignore"))
                terms.append(_Term(item.id, text, key, "".join(syllables), initials))
        self.terms = terms
        self._keys = [t.key for t in terms]
        self._pinyins = [t.pinyin for t in terms]

    def search(self, query: str, limit: int = 10) -> list[Hit]:
        text = _fold_query(query)
        best: dict[str, tuple[float, str, str]] = {}

        def offer(item_id: str, score: float, matched: str, how: str) -> None:
            score = round(min(score, 1.0), 3)
            if score > best.get(item_id, (0.0, "", ""))[0]:
                best[item_id] = (score, matched, how)

        letters = "".join(_LETTERS.findall(text))
        if letters and len(letters) >= 2 and len(letters) * 2 >= len(_PUNCT.sub("", text)):
            self._by_pinyin(letters, offer)
        key = _key(text)
        if re.search(r"[\u4e00-\u9fff]", key):
            for c in self.tongban.candidates(text, limit=limit):
                offer(c.item_id, c.score, c.matched, "words" if "+" in c.matched else "alias")
            self._by_part(key, offer)
            self._by_typo(key, offer)
        items = self.tongban.kb.items
        ranked = sorted(best.items(), key=lambda kv: (-kv[1][0], len(items[kv[0]].name), kv[0]))
        return [
            Hit(item_id, items[item_id].name, items[item_id].category, score, matched, how)
            for item_id, (score, matched, how) in ranked[:limit]
        ]

    def timed(self, query: str, limit: int = 10) -> tuple[list[Hit], float]:
        """The hits and the server time they took, in milliseconds."""
        start = time.perf_counter()
        hits = self.search(query, limit)
        return hits, (time.perf_counter() - start) * 1000

    # -- the agent's keyboard ----------------------------------------------------------------

    def _by_pinyin(self, letters: str, offer) -> None:
        for term in self.terms:
            if term.initials == letters:
                offer(term.item_id, 0.96, term.text, "initials")
            elif term.pinyin == letters:
                offer(term.item_id, 0.98, term.text, "pinyin")
            elif len(letters) >= 3 and term.pinyin.startswith(letters):
                offer(
                    term.item_id, 0.8 + 0.15 * len(letters) / len(term.pinyin), term.text, "pinyin"
                )
            elif term.initials.startswith(letters):
                offer(
                    term.item_id,
                    0.75 + 0.2 * len(letters) / len(term.initials),
                    term.text,
                    "initials",
                )
            elif len(letters) >= 3 and letters in term.initials:
                offer(
                    term.item_id,
                    0.6 + 0.2 * len(letters) / len(term.initials),
                    term.text,
                    "initials",
                )
            elif len(letters) >= 4 and letters in term.pinyin:
                offer(
                    term.item_id, 0.6 + 0.2 * len(letters) / len(term.pinyin), term.text, "pinyin"
                )

    def _by_part(self, key: str, offer) -> None:
        """A name or alias that contains the query (驾驶证 -> 驾驶证补领、换领和审验)."""
        if len(key) < 2:
            return
        for term in self.terms:
            if key in term.key and key != term.key:
                offer(term.item_id, 0.62 + 0.3 * len(key) / len(term.key), term.text, "part")

    def _by_typo(self, key: str, offer) -> None:
        """Near misses in writing (结婚登纪) or in sound (a wrong tone or initial)."""
        sound = "".join(lazy_pinyin(key, errors="ignore"))
        if len(key) == 2:  # too short for a near miss; a homophone (离昏 -> 离婚) only
            for term in self.terms:
                if term.pinyin == sound and term.key != key:
                    offer(term.item_id, 0.8, term.text, "typo")
            return
        for _, ratio, index in process.extract(key, self._keys, scorer=fuzz.ratio, limit=5):
            if ratio >= FUZZY_MIN:
                term = self.terms[index]
                offer(term.item_id, 0.5 + 0.35 * ratio / 100, term.text, "typo")
        for _, ratio, index in process.extract(sound, self._pinyins, scorer=fuzz.ratio, limit=5):
            if ratio >= 85:
                term = self.terms[index]
                offer(term.item_id, 0.5 + 0.35 * ratio / 100, term.text, "typo")
