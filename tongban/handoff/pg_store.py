"""The handoff queue in PostgreSQL, for several instances: the SQLite store's SQL and rules
(tongban/handoff/store.py) on one psycopg2 connection per process, behind the same lock.

`handoff_store(settings)` picks it by `settings.handoff_backend` (TONGBAN_HANDOFF_BACKEND):
`sqlite` (default, `handoff_db`) or `sql` (PostgreSQL at TONGBAN_DATABASE_URL). A ticket taken on
one instance is seen taken on every other (the UPDATE ... WHERE state = 'queued' decides).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from tongban.handoff.store import SQLiteHandoffStore


class _Cursor:
    def __init__(self, cursor: Any, lastrowid: int | None) -> None:
        self._cursor, self.lastrowid, self.rowcount = cursor, lastrowid, cursor.rowcount

    def fetchone(self) -> tuple | None:
        return self._cursor.fetchone()

    def fetchall(self) -> list[tuple]:
        return self._cursor.fetchall()


class _Connection:
    """The part of sqlite3.Connection the SQLite store uses (`?` parameters, lastrowid,
    BEGIN IMMEDIATE, commit, rollback), on psycopg2 in autocommit mode with explicit
    transactions; reconnects after the database was restarted."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._conn: Any = None

    def _live(self) -> Any:
        import psycopg2

        if self._conn is None or self._conn.closed:
            self._conn = psycopg2.connect(self.url, connect_timeout=5)
            self._conn.autocommit = True
        return self._conn

    def execute(self, sql: str, args: tuple = ()) -> _Cursor:
        import psycopg2

        if sql.strip().upper() == "BEGIN IMMEDIATE":
            sql = "BEGIN"
        sql = sql.replace("%", "%%").replace("?", "%s")
        inserting = sql.lstrip().upper().startswith("INSERT")
        if inserting:
            sql += " RETURNING id"
        try:
            cursor = self._live().cursor()
            cursor.execute(sql, tuple(args))
        except (psycopg2.OperationalError, psycopg2.InterfaceError):
            if self._conn is not None and not self._conn.closed:
                self._conn.close()
            raise
        return _Cursor(cursor, cursor.fetchone()[0] if inserting else None)

    def commit(self) -> None:
        self.execute("COMMIT")

    def rollback(self) -> None:
        if self._conn is not None and not self._conn.closed:
            self._conn.cursor().execute("ROLLBACK")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()


class PGHandoffStore(SQLiteHandoffStore):
    def __init__(
        self, url: str, clock: Callable[[], float] = time.time, prefix: str = "tongban"
    ) -> None:
        from tongban.stores import shared

        shared.ensure_schema(shared.engine(url), prefix)
        self.path = url.rsplit("@", 1)[-1]
        self.clock = clock
        self._lock = threading.Lock()
        self._db = _Connection(url)  # type: ignore[assignment]


def handoff_store(settings: Any) -> SQLiteHandoffStore:
    from tongban.stores.shared import create, need

    return create(
        "handoff_backend",
        getattr(settings, "handoff_backend", "sqlite"),
        {
            "sqlite": lambda s: SQLiteHandoffStore(s.handoff_db),
            "sql": lambda s: PGHandoffStore(
                need(s.database_url, "database_url"), prefix=s.key_prefix
            ),
        },
        settings,
    )
