"""The case store interface and its embedded SQLite implementation (the default for `make run`).

A real deployment points `TONGBAN_CASES_BACKEND=http` at the government case API instead.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from tongban.cases.model import CaseRecord, HistoryEntry

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS cases (
    case_id TEXT PRIMARY KEY,
    item TEXT NOT NULL,
    applicant TEXT NOT NULL,
    id_last4 TEXT NOT NULL,
    phone_last4 TEXT NOT NULL,
    region TEXT NOT NULL,
    status TEXT NOT NULL,
    status_note TEXT NOT NULL DEFAULT '',
    accepted_at TEXT NOT NULL,
    due_at TEXT NOT NULL DEFAULT '',
    updated_at TEXT NOT NULL,
    history TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE IF NOT EXISTS attempts (
    scope TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS attempts_scope_at ON attempts (scope, at);
CREATE TABLE IF NOT EXISTS verified (
    scope TEXT PRIMARY KEY,
    case_id TEXT NOT NULL,
    at REAL NOT NULL
);
"""


class CaseStoreError(Exception):
    """The case backend could not be reached or answered nonsense."""


class CaseStore(Protocol):
    def get(self, case_id: str) -> CaseRecord | None: ...

    def upsert(self, records: Iterable[CaseRecord]) -> tuple[int, int]: ...


class SQLiteCaseStore:
    """Cases and verification attempts in one SQLite file, created on first use."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise CaseStoreError(
                    f"办件数据库 {self.path} 的版本（{version}）比程序新，请升级程序"
                )
            db.executescript(_SCHEMA)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        return db

    def get(self, case_id: str) -> CaseRecord | None:
        with self._connect() as db:
            row = db.execute(
                "SELECT case_id, item, applicant, id_last4, phone_last4, region, status, status_note,"
                " accepted_at, due_at, updated_at, history FROM cases WHERE case_id = ?",
                (case_id,),
            ).fetchone()
        if row is None:
            return None
        history = tuple(HistoryEntry(**h) for h in json.loads(row[11]))
        return CaseRecord(
            case_id=row[0], item=row[1], applicant=row[2], id_last4=row[3], phone_last4=row[4],
            region=row[5], status=row[6], status_note=row[7], accepted_at=row[8], due_at=row[9],
            updated_at=row[10], history=history,
        )  # fmt: skip

    def upsert(self, records: Iterable[CaseRecord]) -> tuple[int, int]:
        """Insert or replace by case_id in one transaction; returns (added, updated)."""
        added = updated = 0
        with self._lock, self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                for r in records:
                    exists = db.execute(
                        "SELECT 1 FROM cases WHERE case_id = ?", (r.case_id,)
                    ).fetchone()
                    db.execute(
                        "INSERT OR REPLACE INTO cases (case_id, item, applicant, id_last4, phone_last4,"
                        " region, status, status_note, accepted_at, due_at, updated_at, history)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            r.case_id, r.item, r.applicant, r.id_last4, r.phone_last4, r.region,
                            r.status, r.status_note, r.accepted_at, r.due_at, r.updated_at,
                            json.dumps([h.__dict__ for h in r.history], ensure_ascii=False),
                        ),
                    )  # fmt: skip
                    updated += bool(exists)
                    added += not exists
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return added, updated

    # -- verification attempts (used by the guard) ----------------------------------------------

    def record_attempt(self, scope: str, at: float) -> None:
        with self._connect() as db:
            db.execute("INSERT INTO attempts (scope, at) VALUES (?, ?)", (scope, at))

    def count_attempts(self, scope: str, since: float) -> int:
        with self._connect() as db:
            return db.execute(
                "SELECT COUNT(*) FROM attempts WHERE scope = ? AND at >= ?", (scope, since)
            ).fetchone()[0]

    def oldest_attempt(self, scope: str, since: float) -> float | None:
        with self._connect() as db:
            return db.execute(
                "SELECT MIN(at) FROM attempts WHERE scope = ? AND at >= ?", (scope, since)
            ).fetchone()[0]

    def clear_attempts(self, scope: str) -> None:
        with self._connect() as db:
            db.execute("DELETE FROM attempts WHERE scope = ?", (scope,))

    def prune_attempts(self, before: float) -> None:
        with self._connect() as db:
            db.execute("DELETE FROM attempts WHERE at < ?", (before,))

    # -- a sender's last verified case, so "查看办理记录" needs no second verification ----------

    def remember_verified(self, scope: str, case_id: str, at: float) -> None:
        with self._connect() as db:
            db.execute(
                "INSERT OR REPLACE INTO verified (scope, case_id, at) VALUES (?, ?, ?)",
                (scope, case_id, at),
            )

    def verified_case(self, scope: str, since: float) -> str | None:
        with self._connect() as db:
            row = db.execute(
                "SELECT case_id FROM verified WHERE scope = ? AND at >= ?", (scope, since)
            ).fetchone()
        return row[0] if row else None
