"""Masks for what must never be stored or logged in plain text: case numbers, ID and phone
numbers, and the last 4 characters used to verify a case lookup.

Used on user texts before the tracker store writes them, on feedback reasons and in logs.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

_ALNUM = "0-9A-Za-z\uff10-\uff19\uff21-\uff3a\uff41-\uff5a"
_SEP = r"\s\-_—－·."
# A run of letters and digits, separators allowed inside ("SC 2025-1103 00342").
_RUN = re.compile(rf"(?<![{_ALNUM}])[{_ALNUM}](?:[{_ALNUM}]|[{_SEP}](?=[{_ALNUM}])){{5,60}}")
_LAST4_CUE = re.compile(
    r"((?:后|末|最后|尾)\s*(?:四|4|４)\s*位|尾号|后几位|验证码)"
    rf"(\s*(?:是|为|:|：)?\s*)([0-9０-９]{{3}}[0-9０-９xXｘＸ])(?![{_ALNUM}])"
)
_DATE = re.compile(r"(19|20)\d{2}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])")
_CODE_CHAR = re.compile(rf"[{_ALNUM}]")
MIN_DIGITS = 6  # fewer digits than this is a year, a count or a short number, not an identifier


def _fold(text: str) -> str:
    return re.sub(rf"[{_SEP}]", "", unicodedata.normalize("NFKC", text)).upper()


def _is_date(folded: str) -> bool:
    if len(folded) != 8 or not _DATE.fullmatch(folded):
        return False
    try:
        dt.date(int(folded[:4]), int(folded[4:6]), int(folded[6:]))
    except ValueError:
        return False
    return True


def mask_code(code: str) -> str:
    """SC2025110300342 -> SC2********0342: enough to recognise one's own case, not to use it."""
    return code[:3] + "*" * max(len(code) - 7, 1) + code[-4:]


def mask_identifier(folded: str) -> str:
    """A case number as `mask_code`; a bare number (phone, ID) is masked whole, because its
    last 4 digits may be what verifies a case."""
    if folded.isdigit() or (len(folded) == 18 and folded[:17].isdigit()):
        return "*" * len(folded)
    return mask_code(folded)


def _mask_run(match: re.Match[str]) -> str:
    raw = match.group(0)
    folded = _fold(raw)
    digits = sum(ch.isdigit() for ch in folded)
    if digits < MIN_DIGITS or len(folded) < 8 or _is_date(folded):
        return raw
    return mask_identifier(folded)


def redact(text: str | None) -> str:
    """The text with identifiers and cued last-4 digits masked; everything else kept."""
    if not text:
        return text or ""
    text = _LAST4_CUE.sub(lambda m: m.group(1) + m.group(2) + "****", text)
    return _RUN.sub(_mask_run, text)


def redact_codes(text: str | None) -> str:
    """Every letter and digit masked: for a message that answered "which case / last 4?"."""
    return _CODE_CHAR.sub("*", text or "")
