"""Which item a citizen means: exact aliases, jieba word overlap, and homophones for typos.

Returns ranked candidates with scores so the assistant can ask "您是想问以下哪一项？".
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache

import jieba
from pypinyin import lazy_pinyin

from tongban.kb.model import Item
from tongban.text import compact

EXACT_BASE, EXACT_SPAN = 0.75, 0.25  # exact alias hit: 0.83 (2 chars) .. 1.0 (6+ chars)
# Typos in Chinese are mostly homophones from the pinyin keyboard (结昏, 身分证): a term that sounds
# exactly like part of the message counts almost as much as the term itself.
HOMOPHONE_WEIGHT, MAX_SOUNDED = 0.97, 200
WORDS_BASE, WORDS_SPAN, WORDS_MIN_SHARE = 0.45, 0.35, 0.5
WORDS_DAMPING = 0.88
QUERY_COVERAGE = 0.99  # every content word of a short message belongs to the item
CONFIDENT, MARGIN, MIN_SCORE = 0.8, 0.08, 0.5
CATEGORY_SCORE = 0.6  # an area's name alone: enough for a menu, never for an answer
VAGUE_CATEGORIES = frozenset(["其他"])
NAMED_DETAIL_LEN = 3  # a word of this length used by one item's names only
SOLE_MATCH = 0.58  # a lone candidate (say, one typo in a four-character name) is taken
_PUNCT = re.compile(r"[\s\W_]+")
# A-not-A questions ask yes or no of one verb: 迁不迁户口 is 迁户口, 能不能办 is 能办.
_A_NOT_A = re.compile(r"(.)不\1")
# Words that say nothing about which item is meant.
_STOPWORDS = frozenset(
    [
        "办理",
        "申请",
        "办",
        "怎么",
        "如何",
        "需要",
        "可以",
        "能办",
        "可办",
        "哪边",
        "能",
        "吗",
        "呢",
        "的",
        "了",
        "我",
        "在",
        "去",
        "想",
        "要",
        "请问",
        "什么",
        "哪里",
        "业务",
        "手续",
        "跨省",
        "异地",
        "通办",
        "全国",
        "登记",
        "证明",
        "材料",
        "东西",
        "带",
        "哪些",
        "多久",
        "多少",
        "钱",
        "部门",
        "流程",
        "步骤",
        "可不可以",
        "能不能",
        "现在",
        "这个",
        "一下",
        # Where and how the person lives, not what they want done ("广西户籍，在佛山打工").
        "打工",
        "上班",
        "务工",
        "问",
        "问问",
        "咨询",
        "知道",
        "告诉",
        "有",
        "是",
        "吧",
        "啊",
        "呀",
        "么",
        "吗",
        "哪",
        "里",
        "那",
        "个",
        "人",
        "我们",
        "他",
        "她",
        "老家",
        "户籍",
        "所在地",
        "时候",
    ]
)


_TERM_NOISE = frozenset(["的", "了", "和", "与", "及", "或", "跨省", "通办", "异地", "办理"])


@dataclass(frozen=True)
class Candidate:
    item_id: str
    name: str
    score: float
    matched: str  # the alias, words or homophone term that matched, for explanations and tests


@lru_cache(maxsize=8192)
def _char_sound(char: str) -> str:
    return lazy_pinyin(char)[0]


def _sound(text: str) -> tuple[str, ...]:
    """One syllable per character (each read alone, the same way in terms and messages)."""
    return tuple(_char_sound(c) for c in text)


def term_key(term: str) -> str:
    return _A_NOT_A.sub(r"\1", _PUNCT.sub("", compact(term)))


class ItemResolver:
    """Built once from the items; `candidates` is cheap (well under a millisecond per call)."""

    def __init__(self, items: dict[str, Item]):
        self.items = items
        self.terms: dict[str, str] = {}  # normalised name or alias -> item id
        for item in items.values():
            # A phrase naming a case the item excludes (子女投靠父母) still leads to that item,
            # whose answer then says plainly that the case is not covered.
            phrases = [p for e in item.not_covered for p in e.phrases]
            for term in (item.name, *item.aliases, *phrases):
                key = term_key(term)
                if len(key) >= 2:
                    self.terms.setdefault(key, item.id)
        self.max_len = max(len(t) for t in self.terms)
        self._categories: dict[str, list[str]] = defaultdict(list)
        for item in items.values():
            if item.category not in VAGUE_CATEGORIES:
                self._categories[term_key(item.category)].append(item.id)
        # Terms of three or more characters by their sound, for homophone typos (结昏登记).
        self._by_sound: dict[tuple[str, ...], str] = {}
        for term in self.terms:
            if len(term) >= 3:
                self._by_sound.setdefault(_sound(term), term)
        self._sound_lengths = sorted({len(k) for k in self._by_sound}, reverse=True)
        self._tokenizer: jieba.Tokenizer | None = None
        self._term_words: dict[str, list[tuple[str, frozenset[str]]]] = {}
        self._item_words: dict[str, frozenset[str]] = {}
        self._idf: dict[str, float] = {}

    # jieba's dictionary takes ~0.5 s to build, so it is loaded on first use or by `warm_up`.
    # It uses jieba's own dictionary only: aliases are matched whole above, and here we want
    # their parts, so 夫妻投靠迁户口 also meets 迁 + 户口.
    def warm_up(self) -> None:
        if self._tokenizer is not None:
            return
        tokenizer = jieba.Tokenizer()
        tokenizer.initialize()
        df: dict[str, int] = defaultdict(int)
        for item in self.items.values():
            entries = []
            for term in (item.name, *item.aliases):
                words = frozenset(self._words(tokenizer, term)) - _TERM_NOISE
                if words:
                    entries.append((term, words))
            self._term_words[item.id] = entries
            self._item_words[item.id] = frozenset().union(*(ws for _, ws in entries))
            for word in self._item_words[item.id]:
                df[word] += 1
        total = len(self.items)
        self._idf = {w: math.log(total / n) + 1.0 for w, n in df.items()}
        self._owners = {
            w: item_id
            for item_id, words in self._item_words.items()
            for w in words
            if df[w] == 1 and len(w) >= NAMED_DETAIL_LEN
        }
        self._tokenizer = tokenizer

    def named_details(self, text: str) -> set[str]:
        """Items the message names by a word only their own names use: 高血压 is one of the
        门诊慢特病's diseases, so "那高血压门诊呢" is about that item."""
        self.warm_up()
        words = self._words(self._tokenizer, term_key(text))
        return {self._owners[w] for w in words if w in self._owners}

    @staticmethod
    def _words(tokenizer: jieba.Tokenizer, text: str) -> list[str]:
        return [w for w in tokenizer.lcut(term_key(text)) if w.strip()]

    def candidates(self, text: str, limit: int = 5) -> list[Candidate]:
        key = term_key(text)
        if not key:
            return []
        scores: dict[str, tuple[float, str]] = {}

        def offer(item_id: str, score: float, matched: str) -> None:
            if score > scores.get(item_id, (0.0, ""))[0]:
                scores[item_id] = (round(min(score, 1.0), 3), matched)

        for term in self._exact_hits(key):
            offer(self.terms[term], EXACT_BASE + EXACT_SPAN * min(len(term) / 6, 1.0), term)
        for term in self._homophone_hits(key):
            exact = EXACT_BASE + EXACT_SPAN * min(len(term) / 6, 1.0)
            offer(self.terms[term], exact * HOMOPHONE_WEIGHT, term)
        # Shared words are weaker evidence than a whole alias (exact or with a typo): when some
        # item matched that way, items found only through shared words rank below it.
        word_weight = WORDS_DAMPING if scores else 1.0
        for item_id, share, word in self._word_hits(key):
            offer(item_id, (WORDS_BASE + WORDS_SPAN * share) * word_weight, word)
        # "婚姻登记可以跨省通办吗": a whole area is named, so its items are worth offering.
        if not scores:
            for category, members in self._categories.items():
                if category in key:
                    for item_id in members:
                        offer(item_id, CATEGORY_SCORE, category)
        ranked = sorted(scores.items(), key=lambda kv: (-kv[1][0], kv[0]))
        return [
            Candidate(item_id, self.items[item_id].name, score, matched)
            for item_id, (score, matched) in ranked[:limit]
            if score >= MIN_SCORE
        ]

    def _exact_hits(self, key: str) -> list[str]:
        """Longest alias at each position; shorter aliases inside a longer hit are not counted."""
        hits, i = [], 0
        while i < len(key):
            for length in range(min(self.max_len, len(key) - i), 1, -1):
                term = key[i : i + length]
                if term in self.terms:
                    hits.append(term)
                    i += length
                    break
            else:
                i += 1
        return hits

    def _homophone_hits(self, key: str) -> list[str]:
        """Terms that sound exactly like a stretch of the message but are written differently:
        the pinyin keyboard's typos (结昏, 身分证, 社宝卡). A near-miss in sound (li hun for
        huan zheng) is a different word, not a typo."""
        sounds = _sound(key[:MAX_SOUNDED])
        hits = []
        for length in self._sound_lengths:
            for start in range(len(sounds) - length + 1):
                term = self._by_sound.get(sounds[start : start + length])
                if term is not None and key[start : start + length] != term:
                    hits.append(term)
        return hits

    def _word_hits(self, key: str) -> list[tuple[str, float, str]]:
        """Items sharing most of one alias's words, or explaining most of the message's words."""
        self.warm_up()
        words = (set(self._words(self._tokenizer, key)) - _STOPWORDS) & set(self._idf)
        if not words:
            return []
        hits = []
        query_weight = sum(self._idf[w] for w in words)
        for item_id, entries in self._term_words.items():
            best, best_term = 0.0, ""
            for term, term_words in entries:
                common = term_words & words
                if common:
                    share = sum(self._idf[w] for w in common) / sum(
                        self._idf[w] for w in term_words
                    )
                    if share > best:
                        best, best_term = share, term
            explained = words & self._item_words[item_id]
            coverage = sum(self._idf[w] for w in explained) / query_weight
            if coverage >= QUERY_COVERAGE and coverage * 0.9 > best:
                best, best_term = coverage * 0.9, "+".join(sorted(explained))
            if best >= WORDS_MIN_SHARE:
                hits.append((item_id, best, best_term))
        return hits


def is_confident(candidates: list[Candidate]) -> bool:
    """One clear winner: high enough and not close to the runner-up, or the only match."""
    if not candidates:
        return False
    if len(candidates) == 1:
        return candidates[0].score >= SOLE_MATCH
    return candidates[0].score >= CONFIDENT and candidates[0].score - candidates[1].score >= MARGIN


def find_by_sound(term: str, text: str) -> int:
    """Where in the text a stretch sounds like the term (its homophone typo), or -1."""
    target, sounds = _sound(term), _sound(text[:MAX_SOUNDED])
    n = len(target)
    return next((i for i in range(len(sounds) - n + 1) if sounds[i : i + n] == target), -1)


def clear_winner(candidates: list[Candidate]) -> Candidate | None:
    """The one candidate to take without asking, if there is one."""
    return candidates[0] if is_confident(candidates) else None
