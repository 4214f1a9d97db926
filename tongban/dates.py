"""The date an answer is given for: today, TONGBAN_AS_OF (settings.as_of), or a message's `as_of`
metadata.

Answers depend on it because pilots start and end.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from tongban.errors import BadArgument
from tongban.settings import Settings, settings
from tongban.text import normalise

_DATE_PATTERNS = (
    re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*[日号]?"),
    re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*月?"),
)


def parse_date(value: Any) -> dt.date:
    """Parse YYYY-MM-DD (a date object passes through); raise BadArgument otherwise."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise BadArgument(f"日期“{text}”无法识别，请写成 YYYY-MM-DD，例如 2025-05-10") from None


def server_as_of(config: Settings | None = None) -> dt.date:
    """The server-wide date: TONGBAN_AS_OF if set, otherwise today."""
    return (config or settings()).as_of or dt.date.today()


def message_as_of(metadata: Mapping[str, Any] | None, config: Settings | None = None) -> dt.date:
    """A message's `as_of` metadata wins over the server date; a malformed one is ignored."""
    if metadata and metadata.get("as_of"):
        try:
            return parse_date(metadata["as_of"])
        except BadArgument:
            pass
    return server_as_of(config)


def format_date(day: dt.date) -> str:
    """Chinese date as users read it: 2025年5月10日."""
    return f"{day.year}年{day.month}月{day.day}日"


def parse_loose_date(value: str) -> dt.date | None:
    """2022年3月25日, 2022-03-25, 2022/3/25, 2022年3月 (the first of the month)."""
    text = normalise(value)
    for pattern in _DATE_PATTERNS:
        match = pattern.search(text)
        if match:
            parts = [int(g) for g in match.groups()] + [1] * (3 - len(match.groups()))
            try:
                return dt.date(*parts)
            except ValueError:
                return None
    return None
