"""好差评: citizens' 👍/👎 ratings of answers, validated and stored in SQLite.

No Sanic here: `parse_feedback` checks a request body and `FeedbackStore` keeps the ratings, so both
are tested without a server. One rating per answer: rating the same answer again replaces the
earlier rating and reason, so the counts are counts of rated answers.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

RATINGS = ("up", "down")
MAX_REASON = 500
MAX_BODY = 8192  # bytes; a reason of 500 Chinese characters is about 1,500 bytes of UTF-8
ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")

SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY,
    session_id TEXT NOT NULL,
    message_id TEXT NOT NULL,
    rating TEXT NOT NULL CHECK (rating IN ('up', 'down')),
    reason TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (session_id, message_id)
)
"""

UPSERT = """
INSERT INTO feedback (session_id, message_id, rating, reason, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (session_id, message_id)
DO UPDATE SET rating = excluded.rating, reason = excluded.reason, updated_at = excluded.updated_at
"""


class FeedbackError(ValueError):
    """A rating that cannot be stored; the message is shown to the caller (Chinese first)."""


@dataclass(frozen=True)
class Feedback:
    session_id: str
    message_id: str
    rating: str
    reason: str | None = None


def parse_feedback(body: bytes | str | None) -> Feedback:
    """The rating in a JSON request body, or FeedbackError saying what is wrong with it."""
    if not body:
        raise FeedbackError("请求内容为空 / empty body")
    if len(body) > MAX_BODY:
        raise FeedbackError("请求内容过长 / body too large")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise FeedbackError("请求内容不是有效的 JSON / body is not valid JSON") from exc
    return validate_feedback(data)


def validate_feedback(data: object) -> Feedback:
    if not isinstance(data, dict):
        raise FeedbackError("请求内容必须是 JSON 对象 / body must be a JSON object")
    session_id = _identifier(data, "session_id")
    message_id = _identifier(data, "message_id")
    rating = data.get("rating")
    if rating not in RATINGS:
        raise FeedbackError('rating 必须是 "up" 或 "down" / rating must be "up" or "down"')
    reason = data.get("reason")
    if reason is not None:
        if not isinstance(reason, str):
            raise FeedbackError("reason 必须是文字 / reason must be a string")
        reason = reason.replace("\x00", "").strip() or None
        if reason is not None and len(reason) > MAX_REASON:
            raise FeedbackError(
                f"原因最多 {MAX_REASON} 个字 / reason is longer than {MAX_REASON} characters"
            )
    return Feedback(session_id, message_id, rating, reason)


def _identifier(data: dict, key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not ID_PATTERN.fullmatch(value):
        raise FeedbackError(
            f"{key} 必须是 1 到 64 个字母、数字、- 或 _ / "
            f"{key} must be 1-64 letters, digits, '-' or '_'"
        )
    return value


class FeedbackStore:
    """Ratings in a SQLite file, created with its folder on first use."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._ready = False
        self._lock = threading.Lock()

    def _connect(self) -> sqlite3.Connection:
        with self._lock:
            if not self._ready:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(self.path, timeout=10)
                try:
                    conn.execute(SCHEMA)
                    conn.commit()
                finally:
                    conn.close()
                self._ready = True
        return sqlite3.connect(self.path, timeout=10)

    def save(self, feedback: Feedback, now: datetime | None = None) -> None:
        stamp = (now or datetime.now(UTC)).isoformat(timespec="seconds")
        conn = self._connect()
        try:
            with conn:
                conn.execute(
                    UPSERT,
                    (
                        feedback.session_id,
                        feedback.message_id,
                        feedback.rating,
                        feedback.reason,
                        stamp,
                        stamp,
                    ),
                )
        finally:
            conn.close()

    def summary(self) -> dict[str, int]:
        conn = self._connect()
        try:
            rows = conn.execute("SELECT rating, COUNT(*) FROM feedback GROUP BY rating").fetchall()
        finally:
            conn.close()
        counts = {rating: 0 for rating in RATINGS}
        counts.update({rating: count for rating, count in rows})
        return {"up": counts["up"], "down": counts["down"], "total": counts["up"] + counts["down"]}

    def get(self, session_id: str, message_id: str) -> Feedback | None:
        conn = self._connect()
        try:
            row = conn.execute(
                "SELECT session_id, message_id, rating, reason FROM feedback"
                " WHERE session_id = ? AND message_id = ?",
                (session_id, message_id),
            ).fetchone()
        finally:
            conn.close()
        return Feedback(*row) if row else None
