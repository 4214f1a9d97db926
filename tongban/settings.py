"""Tongban's settings: one frozen object, built once from the environment.

Every module that needs configuration takes it from `settings()`; tests build `Settings(...)` directly.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

log = logging.getLogger(__name__)

# Bounds on everything a client sends, shared by every channel.
MAX_BODY_BYTES = 64 * 1024
MAX_MESSAGE_CHARS = 1000

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Settings:
    # Signs message ids, seals case data in conversation slots, keys the hashes of client
    # addresses. `make run` generates one into var/secrets.env; a cluster shares one.
    secret_key: bytes = field(repr=False)
    # The shared secret Rasa presents to the action server (Authorization: Bearer ...).
    action_token: str | None = field(default=None, repr=False)
    # Proxies whose X-Forwarded-For is believed (nginx in the cluster profile); nobody else's is.
    trusted_proxies: tuple[Network, ...] = ()
    # Where the action server listens; loopback unless configured otherwise.
    actions_host: str = "127.0.0.1"
    # Seconds Rasa waits for a custom action before the citizen gets the "service unavailable"
    # apology (tongban/nlu/rasa_fixes.py); Rasa's own default is five minutes.
    action_timeout: float = 30.0
    ephemeral_secret: bool = False
    # TONGBAN_WECHAT_* values that override the WeChat channel's credentials.yml entry
    # (tongban/wechat/config.py), as (suffix in lower case, value) pairs.
    wechat: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    # The hotline console (tongban/console): its database (staff, sessions, audit log, counters),
    # minutes without a request before a session ends, whether its cookies need HTTPS (set it
    # behind a TLS proxy), and where the socket.io channel notes what each rated answer said.
    console_db: str = "var/console.db"
    console_idle_minutes: int = 30
    console_secure_cookie: bool = False
    answers_db: str = "var/answers.db"
    # Human handoff (tongban/handoff): its database (queue, owners, agents' messages, callback
    # requests) and the service hours of the hotline agents ("mon-fri 09:00-17:00", "always",
    # "never"; tongban/handoff/hours.py), read in `handoff_timezone`.
    handoff_db: str = "var/handoff.db"
    handoff_hours: str = "mon-fri 09:00-17:00"
    handoff_timezone: str = "Asia/Shanghai"
    # Shared state for several Rasa instances (the cluster profile, `make run-cluster`). Each
    # backend is chosen by name, like Rasa's LockStore.create from endpoints.yml: the embedded
    # default ("sqlite" / "memory") or the shared one ("sql" = PostgreSQL, "redis"), or a dotted
    # class path with a `from_settings(settings)` class method. Setting TONGBAN_DATABASE_URL /
    # TONGBAN_REDIS_URL alone switches every backend that has a shared version to it.
    database_url: str | None = field(default=None, repr=False)  # postgresql://host:5432/db
    redis_url: str | None = field(default=None, repr=False)  # redis://host:6379/0
    cases_backend: str = "sqlite"  # sqlite | http | sql
    cases_db: str = "var/cases.db"  # the SQLite file (cases and, embedded, the counters)
    cases_url: str = ""
    cases_token: str | None = field(default=None, repr=False)
    cases_timeout: float = 3.0
    cases_retries: int = 2
    counter_backend: str = "sqlite"  # case-verification failure counters: sqlite | redis
    feedback_backend: str = "sqlite"  # 好差评 ratings: sqlite | sql
    reply_log_backend: str = "memory"  # socket.io answered turns: memory | redis
    socketio_manager: str = "memory"  # socket.io client manager: memory | redis
    wechat_store: str = "memory"  # WeChat dedup, nonces, numbered options, quota: memory | redis
    console_backend: str = "sqlite"  # console staff, sessions, audit: sqlite (console_db) | sql
    handoff_backend: str = "sqlite"  # handoff queue, messages, callbacks: sqlite (handoff_db) | sql
    key_prefix: str = "tongban"  # Redis keys and most PostgreSQL table names start with it
    # The date answers are given for (TONGBAN_AS_OF, YYYY-MM-DD); None means today, read at each
    # message. A message's `as_of` metadata overrides it (tongban/dates.py).
    as_of: dt.date | None = None
    # The knowledge base and the web pages (widget, console). Like every relative path here, and
    # like Rasa's models/ and endpoints.yml, they are found from the working directory: the
    # project folder, where make and tools/run.sh start every process.
    knowledge_dir: Path = Path("knowledge")
    web_dir: Path = Path("web")
    # The cluster runner (tongban/cluster.py, `make run-cluster`): how many Rasa servers, nginx's
    # port, the first Rasa port (action servers from base + 50), where its logs and nginx files go,
    # and the interface the servers listen on (TONGBAN_HOST, loopback unless configured otherwise).
    host: str = "127.0.0.1"
    cluster_size: int = 2
    cluster_port: int = 8080
    cluster_base_port: int = 5301
    cluster_log_dir: Path = Path("var/cluster")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """TONGBAN_SECRET_KEY, TONGBAN_ACTION_TOKEN, TONGBAN_TRUSTED_PROXIES (comma-separated
        addresses or networks), TONGBAN_ACTIONS_HOST, TONGBAN_ACTION_TIMEOUT, TONGBAN_WECHAT_* (see tongban/wechat/config.py),
        TONGBAN_CONSOLE_DB, TONGBAN_CONSOLE_IDLE_MINUTES, TONGBAN_CONSOLE_SECURE_COOKIE (1/true),
        TONGBAN_ANSWERS_DB; shared state: TONGBAN_DATABASE_URL, TONGBAN_REDIS_URL,
        TONGBAN_CASES_BACKEND, TONGBAN_CASES_DB, TONGBAN_CASES_URL, TONGBAN_CASES_TOKEN,
        TONGBAN_CASES_TIMEOUT, TONGBAN_CASES_RETRIES, TONGBAN_COUNTER_BACKEND,
        TONGBAN_FEEDBACK_BACKEND, TONGBAN_REPLY_LOG_BACKEND, TONGBAN_SOCKETIO_MANAGER,
        TONGBAN_WECHAT_STORE, TONGBAN_CONSOLE_BACKEND, TONGBAN_HANDOFF_BACKEND, TONGBAN_KEY_PREFIX;
        TONGBAN_AS_OF; TONGBAN_KNOWLEDGE, TONGBAN_WEB; TONGBAN_HOST,
        TONGBAN_CLUSTER_SIZE, TONGBAN_CLUSTER_PORT, TONGBAN_CLUSTER_BASE_PORT, TONGBAN_LOG_DIR
        (see the fields above). A malformed value raises SettingsError, naming the variable."""
        env = os.environ if environ is None else environ
        secret = env.get("TONGBAN_SECRET_KEY", "").strip()
        ephemeral = not secret
        if ephemeral:
            # Still safe, only not shared: sealed values and signed ids die with the process.
            secret = secrets.token_urlsafe(32)
        proxies = tuple(
            ipaddress.ip_network(part.strip(), strict=False)
            for part in env.get("TONGBAN_TRUSTED_PROXIES", "").split(",")
            if part.strip()
        )
        return cls(
            secret_key=secret.encode(),
            action_token=env.get("TONGBAN_ACTION_TOKEN", "").strip() or None,
            trusted_proxies=proxies,
            actions_host=env.get("TONGBAN_ACTIONS_HOST", "").strip() or "127.0.0.1",
            action_timeout=_number(env, "TONGBAN_ACTION_TIMEOUT", 30.0, 1.0, 300.0, float),
            ephemeral_secret=ephemeral,
            console_db=env.get("TONGBAN_CONSOLE_DB", "").strip() or "var/console.db",
            console_idle_minutes=_minutes(env.get("TONGBAN_CONSOLE_IDLE_MINUTES"), 30),
            console_secure_cookie=env.get("TONGBAN_CONSOLE_SECURE_COOKIE", "").strip().lower()
            in ("1", "true", "yes"),
            answers_db=env.get("TONGBAN_ANSWERS_DB", "").strip() or "var/answers.db",
            handoff_db=env.get("TONGBAN_HANDOFF_DB", "").strip() or "var/handoff.db",
            handoff_hours=env.get("TONGBAN_HANDOFF_HOURS", "").strip() or "mon-fri 09:00-17:00",
            handoff_timezone=env.get("TONGBAN_HANDOFF_TIMEZONE", "").strip() or "Asia/Shanghai",
            **_shared_state(env),
            knowledge_dir=Path(env.get("TONGBAN_KNOWLEDGE", "").strip() or "knowledge").absolute(),
            web_dir=Path(env.get("TONGBAN_WEB", "").strip() or "web").absolute(),
            **_cluster(env),
            as_of=_as_of(env.get("TONGBAN_AS_OF", "").strip()),
            wechat=tuple(
                sorted(
                    (name.removeprefix("TONGBAN_WECHAT_").lower(), value.strip())
                    for name, value in env.items()
                    if name.startswith("TONGBAN_WECHAT_") and value.strip()
                )
            ),
        )


def _shared_state(env: Mapping[str, str]) -> dict:
    def get(name: str, default: str = "") -> str:
        return env.get(f"TONGBAN_{name}", "").strip() or default

    database, redis = get("DATABASE_URL") or None, get("REDIS_URL") or None
    sql_default = "sql" if database else "sqlite"
    return {
        "database_url": database,
        "redis_url": redis,
        "cases_backend": get("CASES_BACKEND", sql_default).lower(),
        "cases_db": get("CASES_DB", "var/cases.db"),
        "cases_url": get("CASES_URL"),
        "cases_token": get("CASES_TOKEN") or None,
        "cases_timeout": _number(env, "TONGBAN_CASES_TIMEOUT", 3.0, 0.1, 60.0, float),
        "cases_retries": _number(env, "TONGBAN_CASES_RETRIES", 2, 0, 10, int),
        "counter_backend": get("COUNTER_BACKEND", "redis" if redis else "sqlite").lower(),
        "feedback_backend": get("FEEDBACK_BACKEND", sql_default).lower(),
        "reply_log_backend": get("REPLY_LOG_BACKEND", "redis" if redis else "memory").lower(),
        "socketio_manager": get("SOCKETIO_MANAGER", "redis" if redis else "memory").lower(),
        "wechat_store": get("WECHAT_STORE", "redis" if redis else "memory").lower(),
        "console_backend": get("CONSOLE_BACKEND", sql_default).lower(),
        "handoff_backend": get("HANDOFF_BACKEND", sql_default).lower(),
        "key_prefix": get("KEY_PREFIX", "tongban"),
    }


class SettingsError(ValueError):
    """A setting that cannot be read; the message names the variable and the expected form."""


def _as_of(value: str) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise SettingsError(
            f"TONGBAN_AS_OF={value!r}：日期无法识别，请写成 YYYY-MM-DD，例如 2025-05-10"
        ) from None


def _number(env: Mapping[str, str], name: str, default, low, high, kind: type = int):
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        raise SettingsError(f"{name}={raw!r}：应是 {low} 到 {high} 之间的数")
    return value


def _cluster(env: Mapping[str, str]) -> dict:
    return {
        "host": env.get("TONGBAN_HOST", "").strip() or "127.0.0.1",
        "cluster_size": _number(env, "TONGBAN_CLUSTER_SIZE", 2, 1, 32),
        "cluster_port": _number(env, "TONGBAN_CLUSTER_PORT", 8080, 1, 65535),
        "cluster_base_port": _number(env, "TONGBAN_CLUSTER_BASE_PORT", 5301, 1024, 65000),
        "cluster_log_dir": Path(env.get("TONGBAN_LOG_DIR", "").strip() or "var/cluster").absolute(),
    }


def _minutes(value: str | None, default: int) -> int:
    try:
        minutes = int((value or "").strip())
    except ValueError:
        return default
    return minutes if 1 <= minutes <= 24 * 60 else default


@cache
def settings() -> Settings:
    """The process's settings, read from the environment on first use."""
    built = Settings.from_env()
    if built.ephemeral_secret:
        log.warning("TONGBAN_SECRET_KEY is not set: using a per-process key (make run sets one)")
    return built
