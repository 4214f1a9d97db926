"""The one reply contract: what Tongban says, typed, for every channel to render.

`Reply` holds the direct answer (lead), one short list (body), collapsible details (sections),
choices (options), suggested next questions (follow-ups), sources and meta. It carries no channel
syntax: option payloads are Tongban's own (`item:<id>`, `ask:<text>`, `case:history`, `tel:12345`), and each
channel maps them to what it sends (tongban/channels/options.py).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any

SCHEMA_VERSION = 1
MAX_OPTION_TITLE = 12


class Eligibility(str, Enum):
    YES = "yes"
    NO = "no"
    NOT_CONFIRMED = "not_confirmed"


class SectionKind(str, Enum):
    DOCUMENTS = "documents"
    STEPS = "steps"
    CONDITIONS = "conditions"
    REGIONS = "regions"
    NOTES = "notes"
    HISTORY = "history"
    CHANNELS = "channels"
    FACTS = "facts"


@dataclass(frozen=True)
class Section:
    kind: SectionKind
    title: str
    items: tuple[str, ...]


@dataclass(frozen=True)
class Option:
    """A choice: a short title for the button and Tongban's own payload."""

    title: str
    payload: str

    @classmethod
    def item(cls, item_id: str, title: str) -> Option:
        return cls(short_title(title), f"item:{item_id}")

    @classmethod
    def ask(cls, question: str, title: str | None = None) -> Option:
        return cls(short_title(title or question), f"ask:{question}")

    @classmethod
    def call(cls, number: str = "12345", title: str = "拨打12345") -> Option:
        """A phone call, not a message: the widget makes it a tel: link, text channels a line."""
        return cls(short_title(title), f"tel:{number}")


@dataclass(frozen=True)
class SourceView:
    """A source as a citizen sees it: issuer, document and date; a link only to official sites."""

    title: str
    issuer: str
    ref: str
    date: str
    url: str | None
    repost: bool

    def citation(self) -> str:
        ref = f"{self.ref}，" if self.ref and self.ref not in (self.title, self.issuer) else ""
        text = f"《{self.title}》（{ref}{self.issuer}，{format_source_date(self.date)}）"
        return f"转载来源：{text}" if self.repost else text


@dataclass(frozen=True)
class Meta:
    kind: str | None = None
    item: str | None = None
    stage: str | None = None
    as_of: str | None = None
    eligibility: Eligibility | None = None
    verdict: str | None = None  # the finer verdict behind eligibility (not_yet, ended, local...)
    home: str | None = None
    at: str | None = None
    needs: tuple[str, ...] = ()
    topic: str | None = None  # what a "not covered" reply understood the question to be about


@dataclass(frozen=True)
class Reply:
    lead: str
    body: Section | None = None
    sections: tuple[Section, ...] = ()
    options: tuple[Option, ...] = ()
    follow_ups: tuple[Option, ...] = ()
    sources: tuple[SourceView, ...] = ()
    meta: Meta = field(default_factory=Meta)

    @property
    def has_details(self) -> bool:
        return bool(self.sections or self.sources)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["version"] = SCHEMA_VERSION
        return _plain(data)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Reply:
        def section(raw: dict | None) -> Section | None:
            if raw is None:
                return None
            return Section(SectionKind(raw["kind"]), raw["title"], tuple(raw["items"]))

        meta = dict(data.get("meta") or {})
        if meta.get("eligibility"):
            meta["eligibility"] = Eligibility(meta["eligibility"])
        meta["needs"] = tuple(meta.get("needs") or ())
        return cls(
            lead=data["lead"],
            body=section(data.get("body")),
            sections=tuple(section(s) for s in data.get("sections") or ()),
            options=tuple(Option(**o) for o in data.get("options") or ()),
            follow_ups=tuple(Option(**o) for o in data.get("follow_ups") or ()),
            sources=tuple(SourceView(**s) for s in data.get("sources") or ()),
            meta=Meta(**meta),
        )


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def short_title(text: str, limit: int = MAX_OPTION_TITLE) -> str:
    """A button title of at most `limit` characters (an ellipsis marks a cut)."""
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def format_source_date(value: str) -> str:
    """2025-04-06 -> 2025年4月6日; 2020-12 -> 2020年12月; 2020 -> 2020年."""
    parts = [int(p) for p in value.split("-") if p.isdigit()]
    if len(parts) == 3:
        try:
            day = dt.date(*parts)
        except ValueError:
            return value
        return f"{day.year}年{day.month}月{day.day}日"
    if len(parts) == 2:
        return f"{parts[0]}年{parts[1]}月"
    return f"{parts[0]}年" if parts else value
