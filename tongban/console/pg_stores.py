"""The console's shared stores: staff accounts, sessions and the audit log in PostgreSQL, the rate
counters in Redis, for several instances (the cluster profile). Same interfaces and the same SQL
as the SQLite versions in tongban/console/stores.py, on one SQLAlchemy engine.

`console_stores(settings)` picks them by `settings.console_backend` (TONGBAN_CONSOLE_BACKEND):
`sqlite` (default, `console_db`) or `sql` (PostgreSQL at TONGBAN_DATABASE_URL; counters in Redis
when TONGBAN_REDIS_URL is set, else in the SQLite file).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tongban.console.stores import (
    ConsoleStores,
    SQLiteAuditLog,
    SQLiteSessionStore,
    SQLiteStaffStore,
    Staff,
    StaffError,
)


class _PGDatabase:
    """`run` and `rows` as in the SQLite `_Database`, with its `?` parameters, on PostgreSQL."""

    def __init__(self, url: str, prefix: str = "tongban") -> None:
        from tongban.stores import shared

        self.path = Path(url.rsplit("@", 1)[-1])
        self.engine = shared.engine(url)
        shared.ensure_schema(self.engine, prefix)

    @staticmethod
    def _sql(sql: str) -> str:
        return sql.replace("%", "%%").replace("?", "%s")

    def run(self, sql: str, params: tuple = ()) -> Any:
        with self.engine.begin() as conn:
            return conn.exec_driver_sql(self._sql(sql), tuple(params))

    def rows(self, sql: str, params: tuple = ()) -> list[tuple]:
        with self.engine.begin() as conn:
            return [tuple(r) for r in conn.exec_driver_sql(self._sql(sql), tuple(params))]


class PGStaffStore(SQLiteStaffStore):
    def add(self, staff: Staff) -> None:
        from sqlalchemy.exc import IntegrityError

        try:
            self._db.run(
                "INSERT INTO staff (name, role, password_hash, active) VALUES (?, ?, ?, ?)",
                (staff.name, staff.role, staff.password_hash, int(staff.active)),
            )
        except IntegrityError:
            raise StaffError(f"账号“{staff.name}”已存在") from None


def postgres(settings: Any) -> ConsoleStores:
    from tongban.cases.limits import RedisFailureCounter, SQLiteFailureCounter
    from tongban.stores.shared import need

    db = _PGDatabase(need(settings.database_url, "database_url"), settings.key_prefix)
    counters = (
        RedisFailureCounter.from_settings(settings)
        if settings.redis_url
        else SQLiteFailureCounter(settings.console_db)
    )
    return ConsoleStores(PGStaffStore(db), SQLiteSessionStore(db), SQLiteAuditLog(db), counters)


def console_stores(settings: Any) -> ConsoleStores:
    from tongban.stores.shared import create

    return create(
        "console_backend",
        getattr(settings, "console_backend", "sqlite"),
        {"sqlite": lambda s: ConsoleStores.sqlite(s.console_db), "sql": postgres},
        settings,
    )
