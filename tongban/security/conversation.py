"""Redaction of Rasa events before they are stored: no case number, ID or phone number, and no
last-4 verification digits, ever reach the tracker store in plain text.

Works on event dictionaries (`Event.as_dict()`), so it needs no database and is tested alone.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator
from typing import Any

from tongban.security.keys import looks_sealed
from tongban.security.redact import redact, redact_codes

# Slots the case form fills; while it asks for one, the whole user answer is a secret.
SENSITIVE_SLOTS = frozenset({"case_number", "verification"})


def _redact_user(data: dict[str, Any], answering_secret: bool) -> None:
    scrub = redact_codes if answering_secret else redact
    if isinstance(data.get("text"), str):
        data["text"] = scrub(data["text"])
    parse = data.get("parse_data")
    if isinstance(parse, dict):
        if isinstance(parse.get("text"), str):
            parse["text"] = scrub(parse["text"])
        for entity in parse.get("entities") or ():
            if isinstance(entity, dict) and isinstance(entity.get("value"), str):
                if entity.get("entity") == "case_number" or answering_secret:
                    entity["value"] = redact_codes(entity["value"])
                else:
                    entity["value"] = redact(entity["value"])


def _redact_slot(data: dict[str, Any]) -> None:
    value = data.get("value")
    sensitive = data.get("name") in SENSITIVE_SLOTS and isinstance(value, str)
    if sensitive and not looks_sealed(value):  # a sealed token is already unreadable
        data["value"] = redact_codes(value)


def redacted(events: Iterable[dict[str, Any]], skip: int = 0) -> Iterator[dict[str, Any]]:
    """Copies of the events after the first `skip`, with personal data masked, in order.

    Pass all events of the conversation session, not only new ones: whether a user message
    answered the form's "case number?" or "last 4?" question depends on the events before it.
    """
    requested: Any = None
    for index, original in enumerate(events):
        kind = original.get("event")
        if kind == "slot" and original.get("name") == "requested_slot":
            requested = original.get("value")
        elif kind in ("restart", "session_started") or (
            kind == "active_loop" and original.get("name") is None
        ):
            requested = None
        if index < skip:
            continue
        data = copy.deepcopy(original)
        if kind == "user":
            _redact_user(data, requested in SENSITIVE_SLOTS)
        elif kind == "slot":
            _redact_slot(data)
        elif kind == "bot" and isinstance(data.get("text"), str):
            data["text"] = redact(data["text"])
        yield data
