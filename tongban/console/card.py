"""The item card: everything an agent reads out about one item, for given places and date.

Nothing is decided here. Each part is a `Reply` the assistant gives the bot's users for the same
question (`Tongban.ask(..., item=, kind=)`), or a record of the knowledge base (stages, sources,
last verified); the page renders them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from typing import Any

from tongban.assistant import Tongban
from tongban.dates import parse_date, server_as_of
from tongban.errors import BadArgument
from tongban.meaning import QuestionKind

# The questions whose answers make up the card, in the order the page shows them.
CARD_KINDS = (
    QuestionKind.CAN,
    QuestionKind.DOCUMENTS,
    QuestionKind.PROCESS,
    QuestionKind.TIME_FEES,
    QuestionKind.DEPARTMENT,
    QuestionKind.REGIONS,
)


def card_date(value: str | None) -> dt.date:
    if not value:
        return server_as_of()
    try:
        return parse_date(value)
    except (ValueError, TypeError, BadArgument):
        raise BadArgument("日期格式不对：请用 YYYY-MM-DD，例如 2024-01-15") from None


def item_card(
    tongban: Tongban,
    item_id: str,
    home: str | None = None,
    at: str | None = None,
    as_of: str | None = None,
) -> dict[str, Any]:
    """The card as JSON; BadArgument for an unknown item, place or a malformed date."""
    item = tongban.kb.items.get(item_id or "")
    if item is None:
        raise BadArgument("没有这个事项，请先搜索再选择")
    day = card_date(as_of)
    home_place, at_place = tongban.place(home), tongban.place(at)
    replies = {
        kind.value: tongban.ask(
            "", home=home_place, at=at_place, as_of=day, kind=kind, item=item.id
        )
        for kind in CARD_KINDS
    }
    current = replies[QuestionKind.CAN.value].meta.stage
    source_ids = item.sources + tuple(s for stage in item.stages for s in stage.sources)
    return {
        "item": {
            "id": item.id,
            "name": item.name,
            "category": item.category,
            "department": item.department,
            "summary": item.summary,
            "last_verified": item.last_verified.isoformat(),
            "valid_from": item.valid_from.isoformat(),
        },
        "as_of": day.isoformat(),
        "home": home_place.label if home_place else None,
        "at": at_place.label if at_place else None,
        "replies": {kind: reply.to_dict() for kind, reply in replies.items()},
        "stages": [
            {
                "id": stage.id,
                "name": stage.name,
                "start": stage.start.isoformat(),
                "end": stage.end.isoformat() if stage.end else None,
                "summary": stage.summary,
                "regions": "全国" if stage.nationwide else f"{len(stage.regions)} 个地区",
                "current": stage.id == current,
            }
            for stage in sorted(item.stages, key=lambda s: s.start)
        ],
        "sources": [asdict(s.view()) for s in tongban.kb.sources_for(source_ids)],
    }


def place_suggestions(tongban: Tongban, query: str, limit: int = 10) -> list[dict[str, str]]:
    """Provinces and cities whose name starts with or contains the query, provinces first."""
    from tongban.text import compact

    key = compact(query or "")[:20]
    if not key:
        return []
    regions = tongban.regions
    found: list[tuple[int, str, str]] = []
    for province in regions.provinces.values():
        names = (province.name, province.short, *province.aliases)
        if any(key in n for n in names):
            rank = 0 if any(n.startswith(key) for n in names) else 2
            found.append((rank, province.name, province.name))
    for city in regions.cities.values():
        if key in city.name:
            place = regions.place_of_city(city)
            if place.county and place.city and place.county.name == place.city.name:
                continue  # 东莞市 is listed as its own county-level city too
            rank = (1 if city.name.startswith(key) else 3) + (2 if city.county_level else 0)
            found.append((rank, place.label, place.label))
    found.sort(key=lambda f: (f[0], len(f[1])))
    out, seen = [], set()
    for _, label, value in found:
        if label not in seen:
            seen.add(label)
            out.append({"label": label, "value": value})
        if len(out) >= limit:
            break
    return out
