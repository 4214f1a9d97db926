"""The editors' view of 好差评: the widget's ratings grouped by item and by answer, with the reasons.

A rating names a message id only (tongban/channels/feedback.py). What that message said is noted
when the socket.io channel sends it (`AnswerLog.note`: session, message id, item, question kind
and the lead), so the view can tell which answers of which items are rated down. Both are chosen by
`settings.feedback_backend`: SQLite files by default (ratings: the webchat channel's `feedback_db`;
answers: TONGBAN_ANSWERS_DB, var/answers.db), or PostgreSQL tables shared by every instance (`sql`).
"""

from __future__ import annotations

import csv
import io
import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from tongban.channels.feedback import StoredFeedback
from tongban.stores import shared

MAX_LEAD = 200
KEEP_SECONDS = 180 * 86400  # answers older than this are forgotten (a rating comes minutes after)
PRUNE_EVERY = 3600  # seconds between two prunings by one process
FIND_BATCH = 250  # message ids per query (SQLite allows 999 parameters in older builds)
UNKNOWN_ITEM = "（未关联事项）"


@dataclass(frozen=True)
class Answered:
    session_id: str
    message_id: str
    item: str | None
    kind: str | None
    lead: str


class AnswerLog(Protocol):
    def note(self, answered: Answered) -> None: ...
    def find(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Answered]: ...


class RecentRatings(Protocol):
    """What the view needs of a feedback store (tongban.channels.feedback)."""

    def recent(self, limit: int) -> list[StoredFeedback]: ...


def answered_from_message(session_id: str, message: dict[str, Any]) -> Answered | None:
    """What a bot_uttered message said, as the answer log keeps it."""
    message_id = message.get("message_id")
    if not isinstance(message_id, str):
        return None
    reply = ((message.get("tongban") or {}).get("reply")) or {}
    meta = reply.get("meta") or {}
    lead = reply.get("lead") or message.get("text") or ""
    return Answered(
        session_id, message_id, meta.get("item"), meta.get("kind"), str(lead)[:MAX_LEAD]
    )


# The answer log's queries, the same text for SQLite and PostgreSQL (both take :named parameters).
_NOTE = (
    "INSERT INTO {table} (session_id, message_id, item, kind, lead, at)"
    " VALUES (:s, :m, :item, :kind, :lead, :at) ON CONFLICT (session_id, message_id) DO UPDATE"
    " SET item = excluded.item, kind = excluded.kind, lead = excluded.lead, at = excluded.at"
)
_PRUNE = "DELETE FROM {table} WHERE at < :before"
_FIND = (
    "SELECT session_id, message_id, item, kind, lead FROM {table}"
    " WHERE (session_id, message_id) IN (VALUES {keys})"
)


class _AnswerQueries:
    """`note` and `find` for both logs; `_run` executes one statement on their database."""

    table = "answers"

    def __init__(self) -> None:
        self._last_prune = 0.0

    def _run(self, sql: str, params: dict[str, object]) -> list[tuple]:
        raise NotImplementedError

    def note(self, answered: Answered) -> None:
        now = time.time()
        self._run(
            _NOTE.format(table=self.table),
            {"s": answered.session_id, "m": answered.message_id, "item": answered.item,
             "kind": answered.kind, "lead": answered.lead, "at": now},
        )  # fmt: skip
        if now - self._last_prune > PRUNE_EVERY:
            self._run(_PRUNE.format(table=self.table), {"before": now - KEEP_SECONDS})
            self._last_prune = now

    def find(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Answered]:
        wanted = list(dict.fromkeys(keys))
        out: dict[tuple[str, str], Answered] = {}
        for start in range(0, len(wanted), FIND_BATCH):
            batch = wanted[start : start + FIND_BATCH]
            marks = ", ".join(f"(:s{n}, :m{n})" for n in range(len(batch)))
            params: dict[str, object] = {}
            for n, (session_id, message_id) in enumerate(batch):
                params[f"s{n}"], params[f"m{n}"] = session_id, message_id
            for row in self._run(_FIND.format(table=self.table, keys=marks), params):
                out[(row[0], row[1])] = Answered(*row)
        return out


class SQLiteAnswerLog(_AnswerQueries):
    """The answer log in a SQLite file (one per instance), created with its folder on first use."""

    def __init__(self, path: str | Path):
        super().__init__()
        self.path = Path(path)
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(
                self.path, timeout=10, isolation_level=None, check_same_thread=False
            )
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS answers (session_id TEXT NOT NULL, message_id TEXT"
                " NOT NULL, item TEXT, kind TEXT, lead TEXT NOT NULL, at REAL NOT NULL,"
                " PRIMARY KEY (session_id, message_id))"
            )
            self._db = db
        return self._db

    def _run(self, sql: str, params: dict[str, object]) -> list[tuple]:
        with self._lock:
            return self._conn().execute(sql, params).fetchall()


class SQLAnswerLog(shared.PostgresTable, _AnswerQueries):
    """The shared answer log in PostgreSQL: an answer sent by one instance is found by the
    console on any other. Table `<prefix>_answers` (tongban/migrations)."""

    def __init__(self, url: str, prefix: str = "tongban") -> None:
        _AnswerQueries.__init__(self)
        shared.PostgresTable.__init__(self, url, prefix, "answers")


def answer_log(settings: Any = None) -> AnswerLog:
    """The answer log beside the ratings, by `settings.feedback_backend`: sqlite (the file
    `settings.answers_db`, the default) or sql (PostgreSQL at TONGBAN_DATABASE_URL). With a
    feedback class of your own (a dotted path) answers stay in the SQLite file."""
    from tongban.settings import settings as process_settings
    from tongban.stores.shared import create

    config = settings or process_settings()
    name = "sqlite" if "." in config.feedback_backend else config.feedback_backend
    return create(
        "feedback_backend",
        name,
        {"sqlite": lambda s: SQLiteAnswerLog(s.answers_db), "sql": SQLAnswerLog.from_settings},
        config,
    )


@dataclass
class AnswerGroup:
    lead: str
    kind: str | None
    up: int = 0
    down: int = 0
    reasons: list[dict[str, str]] = field(default_factory=list)


@dataclass
class ItemGroup:
    item: str | None
    name: str
    up: int = 0
    down: int = 0
    answers: dict[str, AnswerGroup] = field(default_factory=dict)


@dataclass(frozen=True)
class Rating:
    rating: str
    reason: str | None
    at: str
    item: str | None
    kind: str | None
    lead: str


def read_ratings(store: RecentRatings, answers: AnswerLog, limit: int = 20_000) -> list[Rating]:
    """The newest ratings in the feedback store (reasons are stored redacted), each with what the
    rated answer said."""
    rated = store.recent(limit)
    found = answers.find((r.session_id, r.message_id) for r in rated)
    out = []
    for r in rated:
        answered = found.get((r.session_id, r.message_id))
        out.append(
            Rating(
                r.rating, r.reason, r.at,
                answered.item if answered else None,
                answered.kind if answered else None,
                answered.lead if answered else "（回答内容未记录）",
            )
        )  # fmt: skip
    return out


def group_ratings(ratings: list[Rating], names: dict[str, str]) -> list[dict[str, Any]]:
    """By item, then by answer (its lead); most rated-down first."""
    items: dict[str | None, ItemGroup] = {}
    for r in ratings:
        group = items.setdefault(r.item, ItemGroup(r.item, names.get(r.item or "", UNKNOWN_ITEM)))
        answer = group.answers.setdefault(r.lead, AnswerGroup(r.lead, r.kind))
        if r.rating == "down":
            group.down += 1
            answer.down += 1
            if r.reason:
                answer.reasons.append({"reason": r.reason, "at": r.at})
        else:
            group.up += 1
            answer.up += 1
    ordered = sorted(items.values(), key=lambda g: (-g.down, -(g.up + g.down), g.name))
    return [
        {
            "item": g.item,
            "name": g.name,
            "up": g.up,
            "down": g.down,
            "answers": [
                {"lead": a.lead, "kind": a.kind, "up": a.up, "down": a.down, "reasons": a.reasons}
                for a in sorted(g.answers.values(), key=lambda a: (-a.down, -a.up))
            ],
        }
        for g in ordered
    ]


def ratings_csv(ratings: list[Rating], names: dict[str, str]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["时间", "评价", "事项编号", "事项", "问题类型", "回答", "原因"])
    for r in ratings:
        writer.writerow(
            [r.at, "好评" if r.rating == "up" else "差评", r.item or "",
             names.get(r.item or "", UNKNOWN_ITEM), r.kind or "", safe_cell(r.lead),
             safe_cell(r.reason or "")]
        )  # fmt: skip
    return "\ufeff" + out.getvalue()  # BOM: Excel opens UTF-8 CSV correctly only with it


def safe_cell(text: str) -> str:
    """A cell a spreadsheet will not run as a formula (CSV injection: =, +, -, @ at the start)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


async def note_message(log: AnswerLog, session_id: str, message: dict[str, Any]) -> None:
    """Note one sent bot message; a failure is logged and never fails the conversation."""
    import asyncio
    import logging

    answered = answered_from_message(session_id, message)
    if answered is None:
        return
    try:
        await asyncio.to_thread(log.note, answered)
    except Exception as exc:  # the citizen's answer matters more than the note
        logging.getLogger(__name__).warning("could not note an answer: %s", type(exc).__name__)
