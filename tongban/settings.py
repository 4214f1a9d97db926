"""Tongban's settings: one frozen object, built once from the environment.

Every module that needs configuration takes it from `settings()`; tests build `Settings(...)` directly.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache

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
    ephemeral_secret: bool = False
    # TONGBAN_WECHAT_* values that override the WeChat channel's credentials.yml entry
    # (tongban/wechat/config.py), as (suffix in lower case, value) pairs.
    wechat: tuple[tuple[str, str], ...] = field(default=(), repr=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """TONGBAN_SECRET_KEY, TONGBAN_ACTION_TOKEN, TONGBAN_TRUSTED_PROXIES (comma-separated
        addresses or networks), TONGBAN_ACTIONS_HOST, TONGBAN_WECHAT_* (see tongban/wechat/config.py)."""
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
            ephemeral_secret=ephemeral,
            wechat=tuple(
                sorted(
                    (name.removeprefix("TONGBAN_WECHAT_").lower(), value.strip())
                    for name, value in env.items()
                    if name.startswith("TONGBAN_WECHAT_") and value.strip()
                )
            ),
        )


@cache
def settings() -> Settings:
    """The process's settings, read from the environment on first use."""
    built = Settings.from_env()
    if built.ephemeral_secret:
        log.warning("TONGBAN_SECRET_KEY is not set: using a per-process key (make run sets one)")
    return built
