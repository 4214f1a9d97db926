"""Normalising what people type: full-width to half-width, 繁体 to 简体, stray spaces.

Every matcher (items, places, case numbers) sees text through `normalise`.
"""

from __future__ import annotations

import unicodedata

from opencc import OpenCC

_T2S = OpenCC("t2s")
MAX_INPUT_CHARS = 500  # matching works on the head of very long messages


def to_simplified(text: str) -> str:
    return _T2S.convert(text)


def normalise(text: str | None) -> str:
    """NFKC (full-width letters/digits to ASCII), simplified characters, lower case, trimmed."""
    if not text:
        return ""
    text = unicodedata.normalize("NFKC", str(text))[:MAX_INPUT_CHARS]
    return to_simplified(text).lower().strip()


def compact(text: str) -> str:
    """`normalise` without any whitespace, for substring matching of Chinese terms."""
    return "".join(normalise(text).split())


def same_length_normal_form(text: str) -> str:
    """Half-width, simplified text of exactly the same length (so offsets stay valid)."""
    chars = []
    for char in text:
        folded = unicodedata.normalize("NFKC", char)
        chars.append(folded.lower() if len(folded) == 1 else char)
    folded = "".join(chars)
    simplified = to_simplified(folded)
    return simplified if len(simplified) == len(folded) else folded
