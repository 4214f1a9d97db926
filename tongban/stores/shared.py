"""Choosing a backend from settings, and the shared PostgreSQL and Redis connections behind them.

`create(kind, name, choices, settings)` works like Rasa's `LockStore.create` on endpoints.yml: a
known name ("sqlite", "memory", "sql", "redis", ...) picks the built-in class, a dotted path
("my.module.Store") names a class of your own with a `from_settings(settings)` class method.

Schema migrations (PostgreSQL): no Alembic, on purpose, for a few small tables. Each component
keeps an ordered list of SQL steps; the table `<prefix>_schema_migrations (component, version,
applied_at)` records how many ran. `migrate()` runs the missing ones in one transaction under a
PostgreSQL advisory lock, so instances starting together apply each step once. Steps are only
ever appended, never edited.
"""

from __future__ import annotations

import importlib
import threading
import zlib
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from tongban.settings import Settings

_engines: dict[str, Any] = {}
_sync_redis: dict[str, Any] = {}
_lock = threading.Lock()


class BackendError(ValueError):
    """A backend name that is neither known nor an importable class."""


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


def migrate(eng: Any, prefix: str, component: str, steps: Sequence[str]) -> int:
    """Bring `component`'s tables to version len(steps); returns the number of steps applied."""
    from sqlalchemy import text

    table = f"{prefix}_schema_migrations"
    with eng.begin() as conn:
        if eng.dialect.name == "postgresql":
            conn.execute(
                text("SELECT pg_advisory_xact_lock(:k)"), {"k": zlib.crc32(table.encode())}
            )
        conn.execute(
            text(
                f"CREATE TABLE IF NOT EXISTS {table} (component TEXT PRIMARY KEY,"
                " version INTEGER NOT NULL, applied_at TEXT NOT NULL)"
            )
        )
        row = conn.execute(
            text(f"SELECT version FROM {table} WHERE component = :c"), {"c": component}
        ).fetchone()
        version = row[0] if row else 0
        if version > len(steps):
            raise BackendError(
                f"{component}: database schema version {version} is newer than this program"
                f" ({len(steps)}): upgrade Tongban"
            )
        for step in steps[version:]:
            for statement in step.split(";"):
                if statement.strip():
                    conn.execute(text(statement))
        if version < len(steps):
            stamp = datetime.now(UTC).isoformat(timespec="seconds")
            conn.execute(text(f"DELETE FROM {table} WHERE component = :c"), {"c": component})
            conn.execute(
                text(f"INSERT INTO {table} (component, version, applied_at) VALUES (:c, :v, :a)"),
                {"c": component, "v": len(steps), "a": stamp},
            )
        return len(steps) - version


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
