"""Can this item be handled here, on this date? Decided from an item's stages and the places.

Pure logic over knowledge records; the wording of answers lives in `tongban.answers`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import Enum

from tongban.kb.model import Item, Stage
from tongban.regions import Place, covers


class Verdict(str, Enum):
    YES = "yes"  # inside the active stage's scope (or the stage is nationwide)
    NO = "no"  # outside the active stage's scope, and that scope is the complete list
    NOT_CONFIRMED = "not_confirmed"  # outside the places known for a partial list
    LOCAL = "local"  # 户籍地 and 所在地 are the same city: an ordinary local matter
    UNKNOWN = "unknown"  # a place (or its city) is missing; see `needs`
    NOT_YET = "not_yet"  # before the first stage
    ENDED = "ended"  # after the last stage, or between two stages


ELIGIBILITY = {
    Verdict.YES: "yes",
    Verdict.LOCAL: "yes",
    Verdict.NO: "no",
    Verdict.NOT_YET: "no",
    Verdict.ENDED: "no",
    Verdict.NOT_CONFIRMED: "not_confirmed",
    Verdict.UNKNOWN: "not_confirmed",
}


class Need(str, Enum):
    AT = "at"  # 所在地 / 办理地
    HOME = "home"  # 户籍地 / 参保地
    AT_CITY = "at_city"  # the province is known but the scope is city-level
    HOME_CITY = "home_city"


@dataclass(frozen=True)
class Assessment:
    verdict: Verdict
    stage: Stage | None  # the stage in force on the date
    previous: Stage | None = None  # the last stage that ended before the date
    upcoming: Stage | None = None  # the next stage after the date
    later_cover: Stage | None = None  # a later stage whose scope includes the place
    needs: tuple[Need, ...] = field(default=())
    outside: Place | None = None  # the place that is outside the stage's scope (NO, NOT_CONFIRMED)

    @property
    def eligibility(self) -> str:
        return ELIGIBILITY[self.verdict]


def assess(item: Item, day: dt.date, home: Place | None, at: Place | None) -> Assessment:
    stage = item.stage_on(day)
    previous = next((s for s in reversed(item.stages) if s.end is not None and s.end < day), None)
    upcoming = next((s for s in item.stages if s.start > day), None)
    if stage is None:
        verdict = Verdict.NOT_YET if previous is None else Verdict.ENDED
        return Assessment(verdict, None, previous, upcoming)
    if home is not None and at is not None and home.same_city(at) and not stage.nationwide:
        return Assessment(Verdict.LOCAL, stage, previous, upcoming)
    if stage.nationwide:
        return Assessment(Verdict.YES, stage, previous, upcoming)

    checks = {"at": [(at, Need.AT, Need.AT_CITY)], "home": [(home, Need.HOME, Need.HOME_CITY)]}
    checks["both"] = checks["home"] + checks["at"]
    needs: list[Need] = []
    outside: Place | None = None
    in_part: Place | None = None  # inside a place where the stage runs only in some part
    for place, need_place, need_city in checks[item.place_rule]:
        if place is None:
            needs.append(need_place)
            continue
        inside = in_scope(stage, place)
        if inside is None:
            needs.append(need_city)
        elif not inside:
            outside = outside or place
        elif in_part_of(stage, place):
            in_part = in_part or place
    if outside is not None:
        later = next((s for s in item.stages if s.start > day and in_scope(s, outside)), None)
        # A partial list names the places known to be covered, not the only ones.
        verdict = Verdict.NO if stage.complete else Verdict.NOT_CONFIRMED
        return Assessment(verdict, stage, previous, upcoming, later, outside=outside)
    if stage.partly_everywhere and not needs:
        # A roll-out somewhere in the country: no place is known to be covered.
        place = at if item.place_rule != "home" else home
        return Assessment(Verdict.NOT_CONFIRMED, stage, previous, upcoming, outside=place)
    if in_part is not None and not needs:
        later = next(
            (
                s
                for s in item.stages
                if s.start > day and in_scope(s, in_part) and not in_part_of(s, in_part)
            ),
            None,
        )
        return Assessment(Verdict.NOT_CONFIRMED, stage, previous, upcoming, later, outside=in_part)
    if needs:
        return Assessment(Verdict.UNKNOWN, stage, previous, upcoming, needs=tuple(needs))
    return Assessment(Verdict.YES, stage, previous, upcoming)


def in_scope(stage: Stage, place: Place) -> bool | None:
    """True, False, or None when the place names a province and the stage lists its cities.

    True includes places inside a `partly` entry (see `in_part_of`)."""
    if stage.nationwide:
        return True
    if stage.partly_everywhere:
        return True
    results = [covers(scope, place) for scope in stage.regions]
    if any(r is True for r in results):
        return True
    if any(r is None for r in results):
        return None
    return False


def in_part_of(stage: Stage, place: Place) -> bool:
    """Whether `place` is covered only through a `partly` entry: the stage runs somewhere there,
    not known where. A place also inside a fully covered entry is not."""
    if stage.partly_everywhere:
        return True
    if not stage.partly:
        return False
    full = [scope for scope in stage.regions if scope not in stage.partly]
    if any(covers(scope, place) is True for scope in full):
        return False
    return any(covers(scope, place) is not False for scope in stage.partly)
