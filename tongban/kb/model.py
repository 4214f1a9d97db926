"""Typed, immutable records of the knowledge base, as the loader builds them from YAML.

Every fact-bearing record names its sources and the date it applies from.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from tongban.kb.official import is_official_url
from tongban.regions import Place, RegionIndex
from tongban.reply import SourceView

MODES = ("全程网办", "异地代收代办", "多地联办")
CHANNEL_KINDS = ("app", "mini_program", "website", "window", "hotline")
PLACE_RULES = ("at", "home", "both")
SCOPES = ("complete", "partial")
NATIONWIDE = "全国"


@dataclass(frozen=True)
class Source:
    id: str
    title: str
    issuer: str
    ref: str
    date: str  # YYYY, YYYY-MM or YYYY-MM-DD: sources are sometimes dated only by month
    url: str
    grade: str
    editor_note: str = ""  # for editors only, never shown to citizens

    @property
    def official(self) -> bool:
        """Published on a government site or by national state media (tongban.kb.official)."""
        return is_official_url(self.url)

    def view(self) -> SourceView:
        """How a citizen sees it: issuer, document and date, linked only when official."""
        return SourceView(
            title=self.title, issuer=self.issuer, ref=self.ref, date=self.date,
            url=self.url if self.official else None, repost=not self.official,
        )  # fmt: skip


@dataclass(frozen=True)
class Document:
    id: str
    name: str
    note: str = ""


@dataclass(frozen=True)
class Channel:
    id: str
    name: str
    kind: str
    note: str = ""
    url: str = ""
    sources: tuple[str, ...] = ()


@dataclass(frozen=True)
class DocumentNeed:
    """A document an item asks for, and when."""

    doc: Document
    condition: str = ""


@dataclass(frozen=True)
class Exclusion:
    """A case the item does not cover, and the phrases that show a question is about it."""

    text: str
    phrases: tuple[str, ...] = ()


@dataclass(frozen=True)
class QuestionFact:
    """A sourced fact that answers one specific question, with the ways citizens ask it."""

    text: str
    asks: tuple[str, ...]
    sources: tuple[str, ...]
    start: dt.date


@dataclass(frozen=True)
class Stage:
    id: str
    name: str
    start: dt.date
    end: dt.date | None
    regions: tuple[Place, ...]  # empty means nationwide (unless `partly_everywhere`)
    summary: str
    sources: tuple[str, ...]
    documents: tuple[DocumentNeed, ...] | None = None
    eligibility: tuple[str, ...] | None = None
    # Whether `regions` is the whole list ("complete") or only the places known ("partial").
    # Undeclared lists are treated as partial: a place outside them is "not confirmed", never "no".
    scope: str | None = None
    editor_note: str = ""
    # Places in `regions` where the stage runs only in some part, not known which (one pilot city
    # per province): a place inside them is "not confirmed", never "yes".
    partly: tuple[Place, ...] = ()
    # `partly: [全国]`: a roll-out somewhere in the country, no place known to be covered.
    partly_everywhere: bool = False

    @property
    def nationwide(self) -> bool:
        return not self.regions and not self.partly_everywhere

    @property
    def complete(self) -> bool:
        return self.nationwide or self.scope == "complete"

    def active_on(self, day: dt.date) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)

    def region_names(self) -> str:
        if self.nationwide:
            return NATIONWIDE
        names = [p.label + ("（部分地区）" if p in self.partly else "") for p in self.regions]
        return "、".join(names) or f"{NATIONWIDE}部分地区"


@dataclass(frozen=True)
class Item:
    id: str
    name: str
    aliases: tuple[str, ...]
    category: str
    department: str
    modes: tuple[str, ...]
    channels: tuple[Channel, ...]
    place_rule: str
    summary: str
    steps: tuple[str, ...]
    documents: tuple[DocumentNeed, ...]
    stages: tuple[Stage, ...]
    sources: tuple[str, ...]
    valid_from: dt.date
    last_verified: dt.date
    file: str
    eligibility: tuple[str, ...] = ()
    time_limit: str = ""
    fees: str = ""
    validity: str = ""
    notes: tuple[str, ...] = ()
    not_covered: tuple[Exclusion, ...] = ()
    related: tuple[str, ...] = ()
    editor_note: str = ""
    facts: tuple[QuestionFact, ...] = ()
    # The editor checked that valid_from is the date the rules apply from, although a cited
    # source carries the same date (a regulation in force on the day it is published).
    valid_from_confirmed: bool = False
    # False: a rule that applies everywhere but is handled by the responsible office (缴存地,
    # 登记地 ...), not a 跨省通办 service; answers never call it "全国通办".
    cross_province: bool = True

    def stage_on(self, day: dt.date) -> Stage | None:
        return next((s for s in self.stages if s.active_on(day)), None)

    def documents_on(self, day: dt.date) -> tuple[DocumentNeed, ...]:
        stage = self.stage_on(day)
        if stage and stage.documents is not None:
            return stage.documents
        return self.documents

    def eligibility_on(self, day: dt.date) -> tuple[str, ...]:
        stage = self.stage_on(day)
        if stage and stage.eligibility is not None:
            return stage.eligibility
        return self.eligibility


@dataclass(frozen=True)
class Fact:
    text: str
    start: dt.date
    sources: tuple[str, ...]


@dataclass(frozen=True)
class Batch:
    name: str
    count: int
    sources: tuple[str, ...]
    due: dt.date | None = None
    ref: str = ""
    examples: tuple[str, ...] = ()


@dataclass(frozen=True)
class Mode:
    name: str
    summary: str
    start: dt.date
    sources: tuple[str, ...]


@dataclass(frozen=True)
class Programme:
    name: str
    summary: str
    total_items: int
    batches: tuple[Batch, ...]
    expansions: tuple[Batch, ...]
    modes: tuple[Mode, ...]
    facts: tuple[Fact, ...]


@dataclass(frozen=True)
class Scheme:
    id: str
    name: str
    aliases: tuple[str, ...]
    members: tuple[Place, ...]
    start: dt.date
    summary: str
    sources: tuple[str, ...]
    item_count: int | None = None
    facts: tuple[Fact, ...] = ()


@dataclass(frozen=True)
class UncoveredService:
    """A government service the knowledge base does not hold, recognised so that a question about
    it is answered honestly ("not covered", with a referral) instead of with another item."""

    id: str
    name: str
    category: str
    phrases: tuple[str, ...]
    refer: str = ""
    sources: tuple[str, ...] = ()


@dataclass(frozen=True)
class KnowledgeBase:
    root: str
    items: dict[str, Item]
    sources: dict[str, Source]
    documents: dict[str, Document]
    channels: dict[str, Channel]
    programme: Programme | None
    schemes: dict[str, Scheme]
    regions: RegionIndex
    warnings: tuple[str, ...] = field(default=())
    uncovered: dict[str, UncoveredService] = field(default_factory=dict)

    def sources_for(self, ids: tuple[str, ...] | list[str]) -> list[Source]:
        seen: dict[str, Source] = {}
        for source_id in ids:
            if source_id in self.sources and source_id not in seen:
                seen[source_id] = self.sources[source_id]
        return list(seen.values())
