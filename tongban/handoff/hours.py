"""Service hours of the hotline agents: when a request for a person joins the queue, and when it
is answered with 12345 and an offer to call back.

A spec is "always", "never", or "; "-separated day ranges with time ranges:
"mon-fri 09:00-12:00,13:30-17:00; sat 09:00-12:00". Times are local to the configured zone.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tongban.errors import TongbanError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_NAMES = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
_PART = re.compile(r"([a-z]{3})(?:-([a-z]{3}))?\s+(.+)")
_SPAN = re.compile(r"(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})")


class HoursError(TongbanError):
    """The service-hours setting cannot be read."""


@dataclass(frozen=True)
class Span:
    day: int  # 0 = Monday
    start: int  # minutes after midnight
    end: int


@dataclass(frozen=True)
class ServiceHours:
    spans: tuple[Span, ...]
    zone: dt.tzinfo
    spec: str

    @classmethod
    def parse(cls, spec: str, timezone: str = "Asia/Shanghai") -> ServiceHours:
        try:
            zone: dt.tzinfo = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise HoursError(
                f"TONGBAN_HANDOFF_TIMEZONE: unknown time zone {timezone!r} (e.g. Asia/Shanghai)"
            ) from None
        text = (spec or "").strip().lower()
        if text == "always":
            spans = tuple(Span(day, 0, 24 * 60) for day in range(7))
            return cls(spans, zone, "always")
        if text == "never":
            return cls((), zone, "never")
        spans: list[Span] = []
        for part in filter(None, (p.strip() for p in text.split(";"))):
            match = _PART.fullmatch(part)
            if not match or match.group(1) not in DAYS or (match.group(2) or "mon") not in DAYS:
                raise HoursError(
                    f"TONGBAN_HANDOFF_HOURS: cannot read {part!r}; "
                    "write e.g. 'mon-fri 09:00-17:00; sat 09:00-12:00', 'always' or 'never'"
                )
            first = DAYS.index(match.group(1))
            last = DAYS.index(match.group(2) or match.group(1))
            for window in match.group(3).split(","):
                times = _SPAN.fullmatch(window.strip())
                if not times:
                    raise HoursError(f"TONGBAN_HANDOFF_HOURS: cannot read the times {window!r}")
                h1, m1, h2, m2 = (int(x) for x in times.groups())
                start, end = h1 * 60 + m1, h2 * 60 + m2
                if not (0 <= start < end <= 24 * 60 and m1 < 60 and m2 < 60):
                    raise HoursError(f"TONGBAN_HANDOFF_HOURS: {window!r} is not a time range")
                day = first
                while True:
                    spans.append(Span(day, start, end))
                    if day == last:
                        break
                    day = (day + 1) % 7
        return cls(tuple(spans), zone, spec.strip())

    def is_open(self, when: dt.datetime) -> bool:
        local = when.astimezone(self.zone)
        minute = local.hour * 60 + local.minute
        return any(s.day == local.weekday() and s.start <= minute < s.end for s in self.spans)

    def describe(self) -> str:
        """The hours in Chinese, for the citizen: 周一至周五 9:00–17:00."""
        if not self.spans:
            return "暂不提供网上人工服务"
        if len(self.spans) == 7 and all(s.start == 0 and s.end == 24 * 60 for s in self.spans):
            return "全天"
        by_times: dict[tuple[int, int], list[int]] = {}
        for span in self.spans:
            by_times.setdefault((span.start, span.end), []).append(span.day)
        parts = []
        for (start, end), days in by_times.items():
            days = sorted(set(days))
            if len(days) > 2 and days == list(range(days[0], days[-1] + 1)):
                named = f"{DAY_NAMES[days[0]]}至{DAY_NAMES[days[-1]]}"
            else:
                named = "、".join(DAY_NAMES[d] for d in days)
            parts.append(f"{named} {_clock(start)}–{_clock(end)}")
        return "；".join(parts)


def _clock(minutes: int) -> str:
    return f"{minutes // 60}:{minutes % 60:02d}"
