"""Choosing a backend from settings, and the shared PostgreSQL and Redis connections behind them.

`create(kind, name, choices, settings)` works like Rasa's `LockStore.create` on endpoints.yml: a
known name ("sqlite", "memory", "sql", "redis", ...) picks the built-in class, a dotted path
("my.module.Store") names a class of your own with a `from_settings(settings)` class method.

Schema migrations: Alembic, with the revisions in tongban/migrations/versions. `upgrade()` runs
them on one connection holding a PostgreSQL advisory lock, so instances starting together apply
each revision once; the stores call `ensure_schema()` (once per URL, prefix and process), the
cluster runner and `tongban db upgrade` call `upgrade()`. Table names and the version table
`<prefix>_alembic_version` carry the key prefix.
"""

from __future__ import annotations

import importlib
import threading
import zlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from tongban.settings import Settings

_engines: dict[str, Any] = {}
_sync_redis: dict[str, Any] = {}
_lock = threading.Lock()


class BackendError(ValueError):
    """A backend that cannot be used: a name neither known nor an importable class, a missing
    setting, or a database schema newer than this program."""


def create(
    kind: str, name: str, choices: Mapping[str, Callable[[Settings], Any]], settings: Settings
) -> Any:
    """The backend `name` for `kind` (e.g. "counter_backend"), built from `settings`."""
    factory = choices.get(name)
    if factory is not None:
        return factory(settings)
    if "." in name:
        module, _, cls = name.rpartition(".")
        try:
            return getattr(importlib.import_module(module), cls).from_settings(settings)
        except (ImportError, AttributeError) as exc:
            raise BackendError(f"{kind}: cannot load {name}: {exc}") from exc
    known = " | ".join(choices)
    raise BackendError(f"{kind}: unknown backend “{name}” (choose {known} or a dotted class path)")


def need(value: str | None, what: str) -> str:
    if not value:
        raise BackendError(f"{what} is not set (TONGBAN_{what.upper()})")
    return value


# ---------------------------------------------------------------- PostgreSQL ----------------


def engine(url: str) -> Any:
    """One SQLAlchemy engine per URL and process (connections checked before use, so a database
    that was restarted is reconnected to without restarting Tongban)."""
    from sqlalchemy import create_engine

    with _lock:
        if url not in _engines:
            _engines[url] = create_engine(
                url, pool_pre_ping=True, pool_size=5, max_overflow=5, pool_timeout=5, future=True
            )
        return _engines[url]


# ---------------------------------------------------------------- schema (Alembic) ----------

# One advisory lock for every prefix in a database: the handoff and console tables have no
# prefix, so two prefixes migrating at once would race to create them.
_MIGRATION_LOCK = zlib.crc32(b"tongban_alembic")
_upgraded: set[tuple[str, str]] = set()
_schema_lock = threading.Lock()


def alembic_config(prefix: str = "tongban", connection: Any = None) -> Any:
    """Alembic's configuration for the tables of `prefix`: the revisions packaged in
    tongban.migrations, run on `connection` (env.py takes both from `attributes`)."""
    from importlib import resources

    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(resources.files("tongban.migrations")))
    config.attributes["prefix"] = prefix
    config.attributes["connection"] = connection
    return config


def _revisions(conn: Any, prefix: str) -> tuple[str | None, str]:
    """(the database's revision for `prefix` or None, this program's head); a revision this
    program does not know means the database was upgraded by a newer Tongban."""
    from alembic.migration import MigrationContext
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config(prefix))
    head = script.get_current_head()
    table = f"{prefix}_alembic_version"
    current = MigrationContext.configure(conn, opts={"version_table": table}).get_current_revision()
    known = {s.revision for s in script.walk_revisions()}
    if current is not None and current not in known:
        raise BackendError(
            f"{table}: database schema revision {current} is newer than this program"
            f" (its newest is {head}): upgrade Tongban"
        )
    return current, head or ""


def current(eng: Any, prefix: str) -> tuple[str | None, str]:
    """(the revision of `prefix`'s tables, or None before the first upgrade; the newest one)."""
    with eng.connect() as conn:
        return _revisions(conn, prefix)


def upgrade(eng: Any, prefix: str) -> tuple[str | None, str]:
    """Bring `prefix`'s tables to the newest revision in one transaction; returns (revision
    before, revision now). Waits for another instance's upgrade, then finds nothing to do."""
    from alembic import command
    from sqlalchemy import text

    with eng.begin() as conn:
        if eng.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK})
        before, head = _revisions(conn, prefix)
        if before != head:
            command.upgrade(alembic_config(prefix, conn), "head")
    return before, head


def ensure_schema(eng: Any, prefix: str) -> None:
    """`upgrade()` the first time a store of this process uses (URL, prefix)."""
    key = (str(eng.url), prefix)
    with _schema_lock:
        if key not in _upgraded:
            upgrade(eng, prefix)
            _upgraded.add(key)


class PostgresTable:
    """A store's PostgreSQL table `<prefix>_<name>`: the engine for `url`, the schema brought to
    head on first use, and `_run(sql, params)` for the SQL text its queries share with SQLite
    (named parameters, :name). Subclasses add `from_settings`."""

    def __init__(self, url: str, prefix: str, name: str) -> None:
        self.path = Path(url.rsplit("@", 1)[-1])  # for log lines: never the password
        self.prefix = prefix
        self.table = f"{prefix}_{name}"
        self.engine = engine(url)

    @classmethod
    def from_settings(cls, settings: Settings) -> Any:
        return cls(need(settings.database_url, "database_url"), settings.key_prefix)

    def _run(self, sql: str, params: dict[str, object]) -> list[tuple]:
        from sqlalchemy import text

        ensure_schema(self.engine, self.prefix)
        with self.engine.begin() as conn:
            result = conn.execute(text(sql), params)
            return [tuple(row) for row in result] if result.returns_rows else []


# ---------------------------------------------------------------- Redis ---------------------


def sync_redis(url: str) -> Any:
    """A thread-safe redis-py client (its own connection pool) per URL and process."""
    import redis

    with _lock:
        if url not in _sync_redis:
            _sync_redis[url] = redis.Redis.from_url(
                url, socket_timeout=2, socket_connect_timeout=2, health_check_interval=10
            )
        return _sync_redis[url]


def async_redis(url: str) -> Any:
    """An asyncio redis-py client; made per event loop by its user (clients are loop-bound)."""
    from redis import asyncio as aioredis

    return aioredis.Redis.from_url(
        url, socket_timeout=2, socket_connect_timeout=2, health_check_interval=10
    )
