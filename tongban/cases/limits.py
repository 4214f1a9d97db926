"""Limits on failed case verifications, and the counters behind them.

A failed verification (a well-formed case number with last 4 characters that do not match, or
a case that does not exist: the same thing to the user) is counted in four scopes at once:

- the case number, across every sender and address: what stops guessing the last 4 of a case
  someone knows, however many sender ids the guesser makes up;
- the sender id: a browser or chat session;
- the client address (the keyed hash the channels put in each message's metadata): higher,
  because families, offices, campuses and mobile carriers put many citizens behind one address;
- everything together: never a lockout (one attacker could otherwise lock every citizen out),
  only a logged alarm for the operators.

Malformed input is never counted, and a success clears no counter: a correct lookup of a case
the guesser knows must not buy more guesses at another. Scopes are keyed hashes (Keys.digest),
never case numbers, sender ids or addresses.

The counters sit behind `FailureCounter`, four synchronous calls a Redis sorted set can also
answer (ZADD, ZCOUNT, ZRANGEBYSCORE ... LIMIT 0 1, ZREMRANGEBYSCORE).
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class Limit:
    """At most `failures` failed verifications in any `seconds` long window, per `scope`."""

    scope: str
    failures: int
    seconds: int


CASE_HOURLY = Limit("case", 5, 3600)
"""Per case number, across all senders: 5 failures in an hour, then that case answers only
through 12345 until the oldest failure is an hour old. Counted whether or not the case exists,
so the lock itself says nothing about existence. The cost: while someone guesses at a case, its
real applicant is refused too and is sent to 12345 (tests/test_case_limits.py)."""

CASE_DAILY = Limit("case", 10, 86400)
"""Per case number, across all senders: 10 failures in 24 hours. Without it the hourly limit
alone would allow 120 guesses a day (about a 2.4% daily chance of finding 1 of 2 last-4 values)."""

SENDER_HOURLY = Limit("sender", 5, 3600)
"""Per sender id: 5 failures an hour. Sender ids are free to make up, so this only spares an
honest user's typos from counting against others; the case and client limits do the work."""

CLIENT_HOURLY = Limit("client", 20, 3600)
"""Per client address (metadata key "client"): 20 failures an hour. Higher than the sender
limit because citizens share NAT addresses; bounds how many cases one address can guess at (and
lock) in an hour: 20 guesses, or 4 cases locked. No limit when the key is missing (CLI, tests)."""

ALARM = Limit("all", 200, 600)
"""Across everything: more than 200 failures in 10 minutes logs a warning (an enumeration
attempt from many addresses, or a broken client). It never refuses a lookup."""

ALARM_REPEAT_SECONDS = 600
"""At most one alarm log line per process in this many seconds, however long the attack."""

LOCKS = (SENDER_HOURLY, CLIENT_HOURLY, CASE_HOURLY, CASE_DAILY)
KEEP_SECONDS = max(limit.seconds for limit in (*LOCKS, ALARM))


class FailureCounter(Protocol):
    """Timestamps of failures per (hashed) scope. Synchronous; safe to share between threads."""

    def record(self, scope: str, at: float) -> None:
        """Count one failure in `scope` at time `at`."""

    def count(self, scope: str, since: float) -> int:
        """How many failures `scope` has had at or after `since`."""

    def oldest(self, scope: str, since: float) -> float | None:
        """The time of the oldest failure of `scope` at or after `since`, or None."""

    def prune(self, before: float) -> None:
        """Forget every failure older than `before`."""


class SQLiteFailureCounter:
    """The default counter: one table in a SQLite file (the case database's by default)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            self.path, timeout=10, isolation_level=None, check_same_thread=False
        )
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(
                "CREATE TABLE IF NOT EXISTS failures (scope TEXT NOT NULL, at REAL NOT NULL);"
                "CREATE INDEX IF NOT EXISTS failures_scope_at ON failures (scope, at);"
                "CREATE INDEX IF NOT EXISTS failures_at ON failures (at);"
            )

    def record(self, scope: str, at: float) -> None:
        with self._lock:
            self._db.execute("INSERT INTO failures (scope, at) VALUES (?, ?)", (scope, at))

    def count(self, scope: str, since: float) -> int:
        with self._lock:
            return self._db.execute(
                "SELECT COUNT(*) FROM failures WHERE scope = ? AND at >= ?", (scope, since)
            ).fetchone()[0]

    def oldest(self, scope: str, since: float) -> float | None:
        with self._lock:
            return self._db.execute(
                "SELECT MIN(at) FROM failures WHERE scope = ? AND at >= ?", (scope, since)
            ).fetchone()[0]

    def prune(self, before: float) -> None:
        with self._lock:
            self._db.execute("DELETE FROM failures WHERE at < ?", (before,))


class CounterUnavailable(Exception):
    """The shared counters could not be reached: lookups are refused (fail closed), not run
    without limits."""


class RedisFailureCounter:
    """The shared counter for several instances: one Redis sorted set per scope (member a unique
    id, score the time), which expires KEEP_SECONDS after its last failure. An attacker who
    alternates instances is counted in the same sets."""

    def __init__(self, client, prefix: str = "tongban"):  # client: redis.Redis
        self.redis = client
        self.prefix = f"{prefix}:failures:"

    @classmethod
    def from_settings(cls, settings) -> RedisFailureCounter:
        from tongban.stores.shared import need, sync_redis

        return cls(sync_redis(need(settings.redis_url, "redis_url")), settings.key_prefix)

    def _call(self, fn, *args):
        import redis

        try:
            return fn(*args)
        except redis.RedisError as exc:
            raise CounterUnavailable(type(exc).__name__) from exc

    def record(self, scope: str, at: float) -> None:
        import uuid

        key = self.prefix + scope
        pipe = self.redis.pipeline(transaction=True)
        pipe.zadd(key, {f"{at:.6f}:{uuid.uuid4().hex[:8]}": at})
        pipe.zremrangebyscore(key, "-inf", f"({at - KEEP_SECONDS}")
        pipe.expire(key, KEEP_SECONDS)
        self._call(pipe.execute)

    def count(self, scope: str, since: float) -> int:
        return int(self._call(self.redis.zcount, self.prefix + scope, since, "+inf"))

    def oldest(self, scope: str, since: float) -> float | None:
        rows = self._call(
            lambda: self.redis.zrangebyscore(
                self.prefix + scope, since, "+inf", start=0, num=1, withscores=True
            )
        )
        return float(rows[0][1]) if rows else None

    def prune(self, before: float) -> None:
        """Nothing to do: each set trims itself on every failure and expires when idle."""


def counter_from_settings(settings) -> FailureCounter:
    """The failure counter named by `settings.counter_backend` (sqlite | redis | dotted path)."""
    from tongban.stores.shared import create

    return create(
        "counter_backend",
        settings.counter_backend,
        {
            "sqlite": lambda s: SQLiteFailureCounter(s.cases_db),
            "redis": RedisFailureCounter.from_settings,
        },
        settings,
    )
