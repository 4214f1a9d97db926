"""The editors' view of 好差评: the widget's ratings grouped by item and by answer, with the reasons.

A rating names a message id only (tongban/channels/feedback.py). What that message said is noted
when the socket.io channel sends it (`AnswerLog.note`: session, message id, item, question kind
and the lead), so the view can tell which answers of which items are rated down. Both stores are
SQLite files by default (ratings: the webchat channel's `feedback_db`; answers: TONGBAN_ANSWERS_DB,
var/answers.db) behind small interfaces.
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

MAX_LEAD = 200
KEEP_SECONDS = 180 * 86400  # answers older than this are forgotten (a rating comes minutes after)
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


class SQLiteAnswerLog:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._last_prune = 0.0

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

    def note(self, answered: Answered) -> None:
        now = time.time()
        with self._lock:
            db = self._conn()
            db.execute(
                "INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?, ?, ?)",
                (answered.session_id, answered.message_id, answered.item, answered.kind,
                 answered.lead, now),
            )  # fmt: skip
            if now - self._last_prune > 3600:
                db.execute("DELETE FROM answers WHERE at < ?", (now - KEEP_SECONDS,))
                self._last_prune = now

    def find(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Answered]:
        out: dict[tuple[str, str], Answered] = {}
        with self._lock:
            db = self._conn()
            for session_id, message_id in keys:
                row = db.execute(
                    "SELECT item, kind, lead FROM answers WHERE session_id = ? AND message_id = ?",
                    (session_id, message_id),
                ).fetchone()
                if row:
                    out[(session_id, message_id)] = Answered(session_id, message_id, *row)
        return out


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


def read_ratings(feedback_db: str | Path, answers: AnswerLog, limit: int = 20_000) -> list[Rating]:
    """The newest ratings (reasons are stored redacted), each with what the rated answer said."""
    path = Path(feedback_db)
    if not path.exists():
        return []
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        rows = conn.execute(
            "SELECT session_id, message_id, rating, reason, updated_at FROM feedback"
            " ORDER BY updated_at DESC LIMIT ?",
            (limit,),
        ).fetchall()
    except sqlite3.OperationalError:  # no rating stored yet: the table is made on first use
        rows = []
    finally:
        conn.close()
    found = answers.find((s, m) for s, m, *_ in rows)
    out = []
    for session_id, message_id, rating, reason, at in rows:
        answered = found.get((session_id, message_id))
        out.append(
            Rating(
                rating, reason, at,
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
