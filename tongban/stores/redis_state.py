"""The shared (Redis) versions of the channels' in-process state, and the factories choosing them.

- `RedisReplyLog`: socket.io's answered turns (`tongban.channels.socketio.ReplyLog`), so a repeat
  of a message that reaches another instance is still answered once, with the same answer.
- `RedisTTLStore`: the WeChat channel's `TTLStore` (nonces, Tencent's retries, numbered options,
  customer-service quota), so a retry landing on another instance is still deduplicated.
- `socketio_manager`: python-socketio's `AsyncRedisManager`, so an emit to a room (a session)
  reaches the socket wherever it is connected.

Redis clients are bound to an event loop; each store makes its client on first use in the loop
that uses it. Every Redis error is raised as `SharedStateUnavailable` (a clear error; the next
call reconnects, no restart needed).
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from tongban.settings import Settings
from tongban.stores.shared import async_redis, create, need

POLL = 0.05


class SharedStateUnavailable(RuntimeError):
    """Redis could not be reached."""


class _AsyncRedis:
    def __init__(self, url: str, prefix: str) -> None:
        self.url = url
        self.prefix = prefix
        self._clients: dict[int, Any] = {}

    def client(self) -> Any:
        loop = id(asyncio.get_running_loop())
        if loop not in self._clients:
            self._clients[loop] = async_redis(self.url)
        return self._clients[loop]

    async def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        import redis

        try:
            return await getattr(self.client(), name)(*args, **kwargs)
        except (redis.RedisError, OSError) as exc:
            raise SharedStateUnavailable(f"Redis: {type(exc).__name__}") from exc


class RedisReplyLog(_AsyncRedis):
    """`ReplyLog` in Redis: `<prefix>:turn:<session>:<message>` is "running" or "done" (SET NX on
    claim), its messages a list beside it; both expire after `ttl` seconds."""

    def __init__(self, url: str, prefix: str = "tongban", ttl: float = 600.0) -> None:
        super().__init__(url, prefix)
        self.ttl = int(ttl)

    @classmethod
    def from_settings(cls, settings: Settings) -> RedisReplyLog:
        return cls(need(settings.redis_url, "redis_url"), settings.key_prefix)

    def _keys(self, session_id: str, message_id: str) -> tuple[str, str]:
        base = f"{self.prefix}:turn:{session_id}:{message_id}"
        return base, base + ":messages"

    async def claim(self, session_id: str, message_id: str) -> bool:
        state, _ = self._keys(session_id, message_id)
        return bool(await self.call("set", state, "running", nx=True, ex=self.ttl))

    async def record(self, session_id: str, message_id: str, message: dict[str, Any]) -> None:
        _, messages = self._keys(session_id, message_id)
        await self.call("rpush", messages, json.dumps(message, ensure_ascii=False))
        await self.call("expire", messages, self.ttl)

    async def finish(self, session_id: str, message_id: str, keep: bool = True) -> None:
        state, messages = self._keys(session_id, message_id)
        if keep:
            await self.call("set", state, "done", xx=True, ex=self.ttl)
        else:
            await self.call("delete", state, messages)

    async def replay(
        self, session_id: str, message_id: str, timeout: float
    ) -> list[dict[str, Any]] | None:
        state, messages = self._keys(session_id, message_id)
        deadline = time.monotonic() + timeout
        while True:
            value = await self.call("get", state)
            if value is None:
                return None
            if value == b"done":
                return [json.loads(m) for m in await self.call("lrange", messages, 0, -1)]
            if time.monotonic() >= deadline:
                raise TimeoutError
            await asyncio.sleep(POLL)


class RedisTTLStore(_AsyncRedis):
    """The WeChat channel's `TTLStore` in Redis (SET NX PX, GET, SET PX, DEL)."""

    @classmethod
    def from_settings(cls, settings: Settings) -> RedisTTLStore:
        return cls(need(settings.redis_url, "redis_url"), settings.key_prefix)

    def _key(self, key: str) -> str:
        return f"{self.prefix}:{key}"

    async def add(self, key: str, value: str, ttl: float) -> bool:
        ms = max(1, int(ttl * 1000))
        return bool(await self.call("set", self._key(key), value, nx=True, px=ms))

    async def get(self, key: str) -> str | None:
        value = await self.call("get", self._key(key))
        return value.decode() if isinstance(value, bytes) else value

    async def set(self, key: str, value: str, ttl: float) -> None:
        await self.call("set", self._key(key), value, px=max(1, int(ttl * 1000)))

    async def delete(self, key: str) -> None:
        await self.call("delete", self._key(key))


# ---------------------------------------------------------------- factories -----------------


def reply_log(settings: Settings) -> Any:
    """socket.io's reply log: memory (default) | redis | dotted class path."""
    from tongban.channels.socketio import MemoryReplyLog

    return create(
        "reply_log_backend",
        settings.reply_log_backend,
        {"memory": lambda s: MemoryReplyLog(), "redis": RedisReplyLog.from_settings},
        settings,
    )


def wechat_store(settings: Settings) -> Any:
    """The WeChat channel's TTL store: memory (default) | redis | dotted class path."""
    from tongban.wechat.stores import MemoryTTLStore

    return create(
        "wechat_store",
        settings.wechat_store,
        {"memory": lambda s: MemoryTTLStore(), "redis": RedisTTLStore.from_settings},
        settings,
    )


def socketio_manager(settings: Settings) -> Any:
    """None for python-socketio's in-process manager (default), or an AsyncRedisManager."""
    from socketio import AsyncRedisManager

    return create(
        "socketio_manager",
        settings.socketio_manager,
        {
            "memory": lambda s: None,
            "redis": lambda s: AsyncRedisManager(
                need(s.redis_url, "redis_url"), channel=f"{s.key_prefix}:socketio"
            ),
        },
        settings,
    )
