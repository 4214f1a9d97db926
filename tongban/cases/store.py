"""The case store interface and its embedded SQLite implementation (the default for `make run`).

A real deployment points `TONGBAN_CASES_BACKEND=http` at the government case API instead.

At rest the SQLite store keeps no case number and no last 4 in plain text: a case is found by a
keyed hash of its number (Keys.digest), its ID and phone last 4 are keyed hashes bound to the
case and compared in constant time, and the number and the applicant's name are kept only masked,
as every reply shows them. The key is TONGBAN_SECRET_KEY: importing and answering must share it.

Schema versions: 1 kept all of it in plain text. A version 1 file is never read; the next
`tongban cases import` (any file) re-hashes its records into version 2 in place and wipes the
plain text (secure_delete, VACUUM). Until then lookups answer "unavailable" and the log says why.
"""

from __future__ import annotations

import hmac
import json
import logging
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from tongban.cases.model import (
    CaseRecord,
    HistoryEntry,
    mask_case_id,
    mask_name,
    normalise_last4,
)
from tongban.security.keys import Keys

log = logging.getLogger(__name__)

SCHEMA_VERSION = 2
_SCHEMA = """
CREATE TABLE IF NOT EXISTS cases (
    case_key TEXT PRIMARY KEY,
    case_masked TEXT NOT NULL,
    item TEXT NOT NULL,
    applicant_masked TEXT NOT NULL,
    id_last4_hash TEXT NOT NULL,
    phone_last4_hash TEXT NOT NULL,
    region TEXT NOT NULL,
    status TEXT NOT NULL,
    status_note TEXT NOT NULL DEFAULT '',
    accepted_at TEXT NOT NULL,
    due_at TEXT NOT NULL DEFAULT '',
    updated_at TEXT NOT NULL,
    history TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE IF NOT EXISTS store_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""
_COLUMNS = (
    "case_key, case_masked, item, applicant_masked, id_last4_hash, phone_last4_hash, region,"
    " status, status_note, accepted_at, due_at, updated_at, history"
)
_INSERT = f"INSERT OR REPLACE INTO cases ({_COLUMNS}) VALUES ({', '.join('?' * 13)})"
_KEY_CHECK = "key_check"


def _create(db: sqlite3.Connection) -> None:
    """The version 2 tables (statement by statement: executescript would commit a transaction)."""
    for statement in _SCHEMA.split(";"):
        if statement.strip():
            db.execute(statement)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


class CaseStoreError(Exception):
    """The case backend could not be reached or answered nonsense."""


class CaseStore(Protocol):
    def get(self, case_id: str) -> CaseRecord | None:
        """The record of a case (for a history already verified), or None."""

    def match(self, case_id: str, last4: str) -> CaseRecord | None:
        """The record only when `last4` verifies it: a missing case and a wrong last 4 are
        both None."""

    def upsert(self, records: Iterable[CaseRecord]) -> tuple[int, int]: ...


class SQLiteCaseStore:
    """Cases in one SQLite file, created on first use (hashed and masked at rest)."""

    def __init__(self, path: str | Path, keys: Keys | None = None, temporary_key: bool = False):
        """`temporary_key`: the key is a per-process one (TONGBAN_SECRET_KEY unset), so nothing
        it hashed could be verified by another process: imports are refused."""
        self.path = Path(path)
        self.keys = keys or Keys.default()
        self.temporary_key = temporary_key
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise CaseStoreError(
                    f"办件数据库 {self.path} 的版本（{version}）比程序新，请升级程序"
                )
            self._legacy = version if self._is_legacy(db, version) else 0
            if not self._legacy:
                _create(db)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA secure_delete=ON")
        return db

    @staticmethod
    def _is_legacy(db: sqlite3.Connection, version: int) -> bool:
        if version >= SCHEMA_VERSION:
            return False
        columns = {row[1] for row in db.execute("PRAGMA table_info(cases)")}
        return "case_id" in columns

    # -- keyed hashes --------------------------------------------------------------------------

    def _case_key(self, case_id: str) -> str:
        return self.keys.digest("case_id", case_id)

    def _last4_hash(self, case_id: str, last4: str) -> str:
        # Bound to the case, so equal last 4 values of two cases do not hash alike.
        return self.keys.digest("case_last4", f"{case_id}\n{last4}")

    def _key_check(self) -> str:
        return self.keys.digest("case_store", "key check")

    def _usable(self, db: sqlite3.Connection) -> None:
        if self._legacy and db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
            self._legacy = 0  # another process (tongban cases import) has upgraded the file
        if self._legacy:
            raise CaseStoreError(
                f"办件数据库 {self.path} 是旧版本（第 {self._legacy} 版，明文保存办件编号和后4位），"
                "不再读取：请运行一次 tongban cases import（导入任一文件），旧数据会改为加密摘要保存"
            )
        row = db.execute("SELECT value FROM store_meta WHERE key = ?", (_KEY_CHECK,)).fetchone()
        if row and not hmac.compare_digest(row[0], self._key_check()):
            raise CaseStoreError(
                f"办件数据库 {self.path} 是用另一个密钥（TONGBAN_SECRET_KEY）导入的："
                "请使用导入时的密钥；如果密钥已更换，请删除该文件后重新导入全部办件"
            )

    # -- reading -------------------------------------------------------------------------------

    def _row(self, case_id: str) -> tuple | None:
        with self._connect() as db:
            self._usable(db)
            return db.execute(
                f"SELECT {_COLUMNS} FROM cases WHERE case_key = ?", (self._case_key(case_id),)
            ).fetchone()

    @staticmethod
    def _record(case_id: str, row: tuple) -> CaseRecord:
        history = tuple(HistoryEntry(**h) for h in json.loads(row[12]))
        # The number is the caller's (the file has only its hash); the last 4 stay in the file.
        return CaseRecord(
            case_id=case_id, item=row[2], applicant=row[3], id_last4="", phone_last4="",
            region=row[6], status=row[7], status_note=row[8], accepted_at=row[9], due_at=row[10],
            updated_at=row[11], history=history,
        )  # fmt: skip

    def get(self, case_id: str) -> CaseRecord | None:
        row = self._row(case_id)
        return self._record(case_id, row) if row else None

    def match(self, case_id: str, last4: str) -> CaseRecord | None:
        row = self._row(case_id)
        last4 = normalise_last4(last4) or ""
        given = self._last4_hash(case_id, last4).encode()
        # A missing case compares against nothing that can match, taking the same time.
        id_hash, phone_hash = (row[4], row[5]) if row else ("-" * 32, "-" * 32)
        id_ok = hmac.compare_digest(id_hash.encode(), given)
        phone_ok = hmac.compare_digest(phone_hash.encode(), given)
        if row is None or not last4 or not (id_ok or phone_ok):
            return None
        return self._record(case_id, row)

    # -- writing -------------------------------------------------------------------------------

    def _values(self, r: CaseRecord) -> tuple:
        return (
            self._case_key(r.case_id), mask_case_id(r.case_id), r.item, mask_name(r.applicant),
            self._last4_hash(r.case_id, r.id_last4), self._last4_hash(r.case_id, r.phone_last4),
            r.region, r.status, r.status_note, r.accepted_at, r.due_at, r.updated_at,
            json.dumps([h.__dict__ for h in r.history], ensure_ascii=False),
        )  # fmt: skip

    def upsert(self, records: Iterable[CaseRecord]) -> tuple[int, int]:
        """Insert or replace by case number in one transaction; returns (added, updated).

        Also upgrades a version 1 file first (see the module docstring)."""
        if self.temporary_key:
            raise CaseStoreError(
                "未设置 TONGBAN_SECRET_KEY：用临时密钥保存的办件以后无法验证，没有导入。"
                "请设置与服务器相同的密钥（make run 生成在 var/secrets.env，可用 . tools/secrets.sh 载入）"
            )
        if self._legacy:
            self._migrate()
        added = updated = 0
        with self._lock, self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                has_rows = db.execute("SELECT 1 FROM cases LIMIT 1").fetchone()
                if has_rows:
                    self._usable(db)
                db.execute(
                    "INSERT OR REPLACE INTO store_meta (key, value) VALUES (?, ?)",
                    (_KEY_CHECK, self._key_check()),
                )
                for r in records:
                    values = self._values(r)
                    exists = db.execute(
                        "SELECT 1 FROM cases WHERE case_key = ?", (values[0],)
                    ).fetchone()
                    db.execute(_INSERT, values)
                    updated += bool(exists)
                    added += not exists
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return added, updated

    def _migrate(self) -> None:
        """Version 1 -> 2: hash and mask every record in place, drop the plain tables (and the
        old per-sender attempts and verified cases), then rewrite the file without them."""
        with self._lock, self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            if not self._is_legacy(db, db.execute("PRAGMA user_version").fetchone()[0]):
                db.execute("ROLLBACK")  # upgraded by another process meanwhile
                self._legacy = 0
                return
            try:
                rows = db.execute(
                    "SELECT case_id, item, applicant, id_last4, phone_last4, region, status,"
                    " status_note, accepted_at, due_at, updated_at, history FROM cases"
                ).fetchall()
                db.execute("DROP TABLE cases")
                db.execute("DROP TABLE IF EXISTS attempts")
                db.execute("DROP TABLE IF EXISTS verified")
                _create(db)
                for row in rows:
                    record = CaseRecord(
                        case_id=row[0], item=row[1], applicant=row[2], id_last4=row[3],
                        phone_last4=row[4], region=row[5], status=row[6], status_note=row[7],
                        accepted_at=row[8], due_at=row[9], updated_at=row[10],
                        history=tuple(HistoryEntry(**h) for h in json.loads(row[11])),
                    )  # fmt: skip
                    db.execute(_INSERT, self._values(record))
                db.execute(
                    "INSERT OR REPLACE INTO store_meta (key, value) VALUES (?, ?)",
                    (_KEY_CHECK, self._key_check()),
                )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            # Freed pages were zeroed (secure_delete); VACUUM and a truncating checkpoint leave
            # neither the file nor its write-ahead log holding the old plain text.
            db.execute("VACUUM")
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self._legacy = 0
        log.warning(
            "case database %s upgraded to version %d: %d records",
            self.path,
            SCHEMA_VERSION,
            len(rows),
        )


class SQLCaseStore(SQLiteCaseStore):
    """The shared case store: the same hashed and masked records in PostgreSQL (any SQLAlchemy
    URL), for several instances and `tongban cases import` on any machine."""

    def __init__(self, url: str, keys: Keys | None = None, temporary_key: bool = False,
                 prefix: str = "tongban"):  # fmt: skip
        from tongban.stores import shared

        self.path = Path(url.rsplit("@", 1)[-1])  # for messages only: never the password
        self.keys = keys or Keys.default()
        self.temporary_key = temporary_key
        self._legacy = 0
        self._lock = threading.Lock()
        self.prefix = prefix
        self.engine = shared.engine(url)
        self._ready = False

    def _begin(self):
        from sqlalchemy.exc import SQLAlchemyError

        from tongban.stores import shared

        if not self._ready:
            try:
                shared.ensure_schema(self.engine, self.prefix)
            except SQLAlchemyError as exc:
                raise CaseStoreError(
                    f"办件数据库不可用 / case database unavailable: {type(exc).__name__}"
                ) from exc
            self._ready = True
        return self.engine.begin()

    def _run(self, fn):
        from sqlalchemy.exc import SQLAlchemyError

        try:
            with self._begin() as conn:
                return fn(conn)
        except SQLAlchemyError as exc:
            raise CaseStoreError(
                f"办件数据库不可用 / case database unavailable: {type(exc).__name__}"
            ) from exc

    def _check_key(self, conn) -> None:
        from sqlalchemy import text

        row = conn.execute(
            text(f"SELECT value FROM {self.prefix}_cases_meta WHERE key = :k"), {"k": _KEY_CHECK}
        ).fetchone()
        if row and not hmac.compare_digest(row[0], self._key_check()):
            raise CaseStoreError(
                "办件数据库是用另一个密钥（TONGBAN_SECRET_KEY）导入的：请使用导入时的密钥"
            )

    def _row(self, case_id: str) -> tuple | None:
        from sqlalchemy import text

        def read(conn):
            self._check_key(conn)
            row = conn.execute(
                text(f"SELECT {_COLUMNS} FROM {self.prefix}_cases WHERE case_key = :k"),
                {"k": self._case_key(case_id)},
            ).fetchone()
            return tuple(row) if row else None

        return self._run(read)

    def upsert(self, records: Iterable[CaseRecord]) -> tuple[int, int]:
        from sqlalchemy import text

        if self.temporary_key:
            raise CaseStoreError("未设置 TONGBAN_SECRET_KEY：没有导入（见 SQLiteCaseStore.upsert）")
        names = [c.strip() for c in _COLUMNS.split(",")]
        insert = text(
            f"INSERT INTO {self.prefix}_cases ({_COLUMNS}) VALUES ("
            + ", ".join(f":{n}" for n in names)
            + ") ON CONFLICT (case_key) DO UPDATE SET "
            + ", ".join(f"{n} = excluded.{n}" for n in names[1:])
        )

        def write(conn):
            added = updated = 0
            conn.execute(text(f"LOCK TABLE {self.prefix}_cases_meta IN EXCLUSIVE MODE"))
            if conn.execute(text(f"SELECT 1 FROM {self.prefix}_cases LIMIT 1")).fetchone():
                self._check_key(conn)
            conn.execute(
                text(
                    f"INSERT INTO {self.prefix}_cases_meta (key, value) VALUES (:k, :v)"
                    " ON CONFLICT (key) DO UPDATE SET value = excluded.value"
                ),
                {"k": _KEY_CHECK, "v": self._key_check()},
            )
            for r in records:
                values = dict(zip(names, self._values(r), strict=True))
                exists = conn.execute(
                    text(f"SELECT 1 FROM {self.prefix}_cases WHERE case_key = :k"),
                    {"k": values["case_key"]},
                ).fetchone()
                conn.execute(insert, values)
                updated += bool(exists)
                added += not exists
            return added, updated

        return self._run(write)
