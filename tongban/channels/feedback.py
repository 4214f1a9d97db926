"""好差评: citizens' 👍/👎 ratings of answers, validated and stored in SQLite (PostgreSQL for
several instances: `feedback_store`).

No Sanic here: `parse_feedback` checks a request body and `FeedbackStore` keeps the ratings, so both
are tested without a server; the console reads them back with `recent`. One rating per answer:
rating the same answer again replaces the earlier rating and reason, so the counts are counts of
rated answers.

A rating names an answer by the `message_id` the socket.io channel gave it: a random part and a
signature binding it to the conversation (`new_message_id`). Only a message the server really sent
to that conversation can be rated; anything else is refused with 403. Reasons are stored with case
numbers, ID and phone numbers masked (`tongban.security.redact`).
"""

from __future__ import annotations

import re
import secrets
import sqlite3
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from tongban.channels.inbound import SESSION_ID, BadRequest, parse_json_object
from tongban.security.keys import Keys
from tongban.security.redact import redact
from tongban.stores import shared

RATINGS = ("up", "down")
MAX_REASON = 500
MAX_BODY = 8192  # bytes; a reason of 500 Chinese characters is about 1,500 bytes of UTF-8
# "<16 random characters>.<22-character signature>", both URL-safe base64.
MESSAGE_ID = re.compile(r"([A-Za-z0-9_-]{16})\.([A-Za-z0-9_-]{22})")
MESSAGE_PURPOSE = "message"

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

# The queries of both stores: {table} is `feedback` in SQLite, `<prefix>_feedback` in PostgreSQL;
# sqlite3 and SQLAlchemy both take the :named parameters.
UPSERT = """
INSERT INTO {table} (session_id, message_id, rating, reason, created_at, updated_at)
VALUES (:s, :m, :r, :why, :t, :t)
ON CONFLICT (session_id, message_id)
DO UPDATE SET rating = excluded.rating, reason = excluded.reason, updated_at = excluded.updated_at
"""
SUMMARY = "SELECT rating, COUNT(*) FROM {table} GROUP BY rating"
GET = (
    "SELECT session_id, message_id, rating, reason FROM {table}"
    " WHERE session_id = :s AND message_id = :m"
)
RECENT = (
    "SELECT session_id, message_id, rating, reason, updated_at FROM {table}"
    " ORDER BY updated_at DESC, id DESC LIMIT :limit"
)


def new_message_id(session_id: str, keys: Keys | None = None) -> str:
    """An id for one bot message sent to `session_id`, which only this server can make."""
    nonce = secrets.token_urlsafe(12)
    signature = (keys or Keys.default()).sign(MESSAGE_PURPOSE, f"{session_id}:{nonce}")
    return f"{nonce}.{signature}"


def message_id_belongs(session_id: str, message_id: object, keys: Keys | None = None) -> bool:
    """Whether `message_id` was made by `new_message_id` for this very session."""
    if not isinstance(message_id, str):
        return False
    match = MESSAGE_ID.fullmatch(message_id)
    if match is None:
        return False
    nonce, signature = match.groups()
    return (keys or Keys.default()).verify(MESSAGE_PURPOSE, f"{session_id}:{nonce}", signature)


class FeedbackError(ValueError):
    """A rating that cannot be stored; the message is shown to the caller (Chinese first)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Feedback:
    session_id: str
    message_id: str
    rating: str
    reason: str | None = None


def parse_feedback(body: bytes | str | None, keys: Keys | None = None) -> Feedback:
    """The rating in a JSON request body, or FeedbackError saying what is wrong with it."""
    if isinstance(body, str):
        body = body.encode("utf-8", "surrogatepass")
    try:
        data = parse_json_object(body, max_bytes=MAX_BODY)
    except BadRequest as exc:
        raise FeedbackError(str(exc), exc.status) from None
    return validate_feedback(data, keys)


def validate_feedback(data: object, keys: Keys | None = None) -> Feedback:
    if not isinstance(data, dict):
        raise FeedbackError("请求内容必须是 JSON 对象 / body must be a JSON object")
    session_id = data.get("session_id")
    if not isinstance(session_id, str) or not SESSION_ID.fullmatch(session_id):
        raise FeedbackError("session_id 格式不对 / session_id is malformed")
    message_id = data.get("message_id")
    if not isinstance(message_id, str) or not MESSAGE_ID.fullmatch(message_id):
        raise FeedbackError("message_id 格式不对 / message_id is malformed")
    rating = data.get("rating")
    if rating not in RATINGS:
        raise FeedbackError('rating 必须是 "up" 或 "down" / rating must be "up" or "down"')
    reason = data.get("reason")
    if reason is not None:
        if not isinstance(reason, str):
            raise FeedbackError("reason 必须是文字 / reason must be a string")
        try:
            reason.encode("utf-8")
        except UnicodeEncodeError:
            raise FeedbackError("reason 含有无效的字符 / reason is not valid Unicode") from None
        reason = reason.replace("\x00", "").strip() or None
        if reason is not None and len(reason) > MAX_REASON:
            raise FeedbackError(
                f"原因最多 {MAX_REASON} 个字 / reason is longer than {MAX_REASON} characters"
            )
    # Checked last, so a malformed request is told what is malformed.
    if not message_id_belongs(session_id, message_id, keys):
        raise FeedbackError(
            "只能评价本次对话中助手发出的回答 / not a message of this conversation", status=403
        )
    return Feedback(session_id, message_id, rating, redact(reason) if reason else None)


@dataclass(frozen=True)
class StoredFeedback:
    """A stored rating and when it was last given (ISO 8601, UTC, to the second)."""

    session_id: str
    message_id: str
    rating: str
    reason: str | None
    at: str


class _FeedbackQueries:
    """What both stores do, with the same SQL; `_run` executes one statement on their database."""

    table = "feedback"

    def _run(self, sql: str, params: dict[str, object]) -> list[tuple]:
        raise NotImplementedError

    def save(self, feedback: Feedback, now: datetime | None = None) -> None:
        stamp = (now or datetime.now(UTC)).isoformat(timespec="seconds")
        self._run(
            UPSERT.format(table=self.table),
            {"s": feedback.session_id, "m": feedback.message_id, "r": feedback.rating,
             "why": feedback.reason, "t": stamp},
        )  # fmt: skip

    def summary(self) -> dict[str, int]:
        counts = {rating: 0 for rating in RATINGS}
        counts.update({r: int(n) for r, n in self._run(SUMMARY.format(table=self.table), {})})
        return {"up": counts["up"], "down": counts["down"], "total": counts["up"] + counts["down"]}

    def get(self, session_id: str, message_id: str) -> Feedback | None:
        rows = self._run(GET.format(table=self.table), {"s": session_id, "m": message_id})
        return Feedback(*rows[0]) if rows else None

    def recent(self, limit: int = 20_000) -> list[StoredFeedback]:
        """The `limit` most recently given ratings, newest first (for the console's view)."""
        rows = self._run(RECENT.format(table=self.table), {"limit": limit})
        return [StoredFeedback(*row) for row in rows]


class FeedbackStore(_FeedbackQueries):
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

    def _run(self, sql: str, params: dict[str, object]) -> list[tuple]:
        conn = self._connect()
        try:
            with conn:
                return conn.execute(sql, params).fetchall()
        finally:
            conn.close()


class SQLFeedbackStore(shared.PostgresTable, _FeedbackQueries):
    """The shared version: the same ratings in PostgreSQL, one rating per answer whichever
    instance took it. Same methods and SQL as `FeedbackStore`."""

    def __init__(self, url: str, prefix: str = "tongban") -> None:
        shared.PostgresTable.__init__(self, url, prefix, "feedback")


def feedback_store(path: str | Path, settings=None):
    """The store named by `settings.feedback_backend`: sqlite (the file `path`, the default),
    sql (PostgreSQL at TONGBAN_DATABASE_URL) or a dotted class path."""
    from tongban.settings import settings as process_settings
    from tongban.stores.shared import create

    config = settings or process_settings()
    return create(
        "feedback_backend",
        config.feedback_backend,
        {"sqlite": lambda s: FeedbackStore(path), "sql": SQLFeedbackStore.from_settings},
        config,
    )
