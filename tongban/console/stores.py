"""The console's shared state behind small interfaces, with the SQLite versions used by default.

Staff accounts, sessions, the audit log and the rate counters are each one Protocol here, so a
shared database (PostgreSQL, Redis) can replace any of them without touching the console. The
counters reuse the case lookups' `FailureCounter` (timestamps per hashed scope). All methods are
synchronous and safe to share between threads; `ConsoleStores.sqlite(path)` builds them all on
one SQLite file (var/console.db by default, TONGBAN_CONSOLE_DB).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from tongban.cases.limits import FailureCounter, SQLiteFailureCounter
from tongban.errors import TongbanError

ROLES = ("agent", "admin")
NAME_PATTERN = r"[A-Za-z0-9_.\-]{2,32}"


class StaffError(TongbanError):
    """An account cannot be created or changed as asked."""


@dataclass(frozen=True)
class Staff:
    name: str
    role: str
    password_hash: str
    active: bool = True


@dataclass(frozen=True)
class Session:
    key: str  # a hash of the cookie's token: the token itself is never stored
    staff: str
    csrf: str
    created: float
    last_seen: float
    client: str  # keyed hash of the address the session logged in from


@dataclass(frozen=True)
class AuditEntry:
    at: float
    agent: str
    action: str  # case_lookup, case_history, login, login_failed, login_locked, logout, export
    case: str  # masked case number, or ""
    result: str
    id: int = 0


@dataclass(frozen=True)
class AuditQuery:
    agent: str | None = None
    action: str | None = None
    result: str | None = None
    since: float | None = None
    until: float | None = None
    limit: int = 500


class StaffStore(Protocol):
    def get(self, name: str) -> Staff | None: ...
    def add(self, staff: Staff) -> None:
        """Create an account; StaffError if the name is taken."""

    def set_password(self, name: str, password_hash: str) -> None: ...
    def all(self) -> list[Staff]: ...


class SessionStore(Protocol):
    def create(self, session: Session) -> None: ...
    def get(self, key: str) -> Session | None: ...
    def touch(self, key: str, at: float) -> None: ...
    def delete(self, key: str) -> None: ...
    def delete_for(self, staff: str) -> None:
        """End every session of one account (password change, account disabled)."""

    def prune(self, idle_before: float, created_before: float) -> None: ...


class AuditLog(Protocol):
    def add(self, entry: AuditEntry) -> None: ...
    def query(self, query: AuditQuery) -> list[AuditEntry]:
        """Newest first."""


SCHEMA = """
CREATE TABLE IF NOT EXISTS staff (
    name TEXT PRIMARY KEY, role TEXT NOT NULL, password_hash TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS sessions (
    key TEXT PRIMARY KEY, staff TEXT NOT NULL, csrf TEXT NOT NULL, created REAL NOT NULL,
    last_seen REAL NOT NULL, client TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_staff ON sessions (staff);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY, at REAL NOT NULL, agent TEXT NOT NULL, action TEXT NOT NULL,
    "case" TEXT NOT NULL, result TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_at ON audit (at);
"""


class _Database:
    """One SQLite connection shared by the stores below, serialised by a lock."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.lock = threading.Lock()
        self.db = sqlite3.connect(
            self.path, timeout=10, isolation_level=None, check_same_thread=False
        )
        with self.lock:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.executescript(SCHEMA)

    def run(self, sql: str, params: tuple = ()) -> sqlite3.Cursor:
        with self.lock:
            return self.db.execute(sql, params)

    def rows(self, sql: str, params: tuple = ()) -> list[tuple]:
        with self.lock:
            return self.db.execute(sql, params).fetchall()


class SQLiteStaffStore:
    def __init__(self, db: _Database):
        self._db = db

    def get(self, name: str) -> Staff | None:
        rows = self._db.rows(
            "SELECT name, role, password_hash, active FROM staff WHERE name = ?", (name,)
        )
        return Staff(rows[0][0], rows[0][1], rows[0][2], bool(rows[0][3])) if rows else None

    def add(self, staff: Staff) -> None:
        try:
            self._db.run(
                "INSERT INTO staff (name, role, password_hash, active) VALUES (?, ?, ?, ?)",
                (staff.name, staff.role, staff.password_hash, int(staff.active)),
            )
        except sqlite3.IntegrityError:
            raise StaffError(f"账号“{staff.name}”已存在") from None

    def set_password(self, name: str, password_hash: str) -> None:
        self._db.run("UPDATE staff SET password_hash = ? WHERE name = ?", (password_hash, name))

    def all(self) -> list[Staff]:
        rows = self._db.rows("SELECT name, role, password_hash, active FROM staff ORDER BY name")
        return [Staff(n, r, h, bool(a)) for n, r, h, a in rows]


class SQLiteSessionStore:
    def __init__(self, db: _Database):
        self._db = db

    def create(self, session: Session) -> None:
        self._db.run(
            "INSERT INTO sessions (key, staff, csrf, created, last_seen, client)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (session.key, session.staff, session.csrf, session.created, session.last_seen,
             session.client),
        )  # fmt: skip

    def get(self, key: str) -> Session | None:
        rows = self._db.rows(
            "SELECT key, staff, csrf, created, last_seen, client FROM sessions WHERE key = ?",
            (key,),
        )
        return Session(*rows[0]) if rows else None

    def touch(self, key: str, at: float) -> None:
        self._db.run("UPDATE sessions SET last_seen = ? WHERE key = ?", (at, key))

    def delete(self, key: str) -> None:
        self._db.run("DELETE FROM sessions WHERE key = ?", (key,))

    def delete_for(self, staff: str) -> None:
        self._db.run("DELETE FROM sessions WHERE staff = ?", (staff,))

    def prune(self, idle_before: float, created_before: float) -> None:
        self._db.run(
            "DELETE FROM sessions WHERE last_seen < ? OR created < ?", (idle_before, created_before)
        )


class SQLiteAuditLog:
    def __init__(self, db: _Database):
        self._db = db

    def add(self, entry: AuditEntry) -> None:
        self._db.run(
            'INSERT INTO audit (at, agent, action, "case", result) VALUES (?, ?, ?, ?, ?)',
            (entry.at, entry.agent, entry.action, entry.case, entry.result),
        )

    def query(self, query: AuditQuery) -> list[AuditEntry]:
        where, params = [], []
        for column, value in (
            ("agent", query.agent), ("action", query.action), ("result", query.result)
        ):  # fmt: skip
            if value:
                where.append(f"{column} = ?")
                params.append(value)
        if query.since is not None:
            where.append("at >= ?")
            params.append(query.since)
        if query.until is not None:
            where.append("at < ?")
            params.append(query.until)
        sql = 'SELECT at, agent, action, "case", result, id FROM audit'
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY at DESC, id DESC LIMIT ?"
        params.append(max(1, min(query.limit, 100_000)))
        return [AuditEntry(*row) for row in self._db.rows(sql, tuple(params))]


@dataclass(frozen=True)
class ConsoleStores:
    staff: StaffStore
    sessions: SessionStore
    audit: AuditLog
    counters: FailureCounter  # login failures and agents' case lookups, per hashed scope

    @classmethod
    def sqlite(cls, path: str | Path) -> ConsoleStores:
        db = _Database(path)
        return cls(
            SQLiteStaffStore(db), SQLiteSessionStore(db), SQLiteAuditLog(db),
            SQLiteFailureCounter(path),
        )  # fmt: skip


def iter_csv_rows(entries: list[AuditEntry]) -> Iterator[list[str]]:
    import datetime as dt

    yield ["时间", "坐席", "操作", "办件编号（打码）", "结果"]
    for entry in entries:
        when = dt.datetime.fromtimestamp(entry.at).astimezone().isoformat(timespec="seconds")
        yield [when, entry.agent, entry.action, entry.case, entry.result]
