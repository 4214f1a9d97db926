"""The WeChat channel's shared state, behind one small TTL key-value interface.

`TTLStore` is four async calls a Redis server answers directly (SET NX EX, GET, SET EX, DEL);
`MemoryTTLStore` is the default for one process. On it sit the replay guard for nonces, the
delivery log that deduplicates Tencent's retries, each user's numbered options and the
customer-service quota. Several Rasa instances behind a load balancer share one Redis version.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

MAX_ENTRIES = 100_000  # the memory store forgets the oldest entries past this
NONCE_TTL = 600  # a timestamp is accepted for ±5 minutes, so a nonce is remembered for 10
DELIVERY_TTL = 600  # Tencent's three deliveries come within about 15 s; kept well beyond
OPTIONS_TTL = 1800  # "回复 1" means the last numbered list for half an hour
QUOTA_WINDOW = 48 * 3600  # customer-service messages: 5 within 48 h of the user's last message
QUOTA_MESSAGES = 5
POLL = 0.05  # seconds between looks at a delivery another request is working on


class TTLStore:
    """String values under string keys, each with its own lifetime in seconds."""

    async def add(self, key: str, value: str, ttl: float) -> bool:
        """Set `key` only if it is absent; True if this call set it (Redis: SET NX EX)."""
        raise NotImplementedError

    async def get(self, key: str) -> str | None:
        raise NotImplementedError

    async def set(self, key: str, value: str, ttl: float) -> None:
        raise NotImplementedError

    async def delete(self, key: str) -> None:
        raise NotImplementedError


class MemoryTTLStore(TTLStore):
    """The default store: a dictionary in this process, oldest entries forgotten first."""

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, max_entries: int = MAX_ENTRIES
    ) -> None:
        self.clock = clock
        self.max_entries = max_entries
        self._data: OrderedDict[str, tuple[str, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._data)

    def _live(self, key: str) -> str | None:
        entry = self._data.get(key)
        if entry is None:
            return None
        if entry[1] <= self.clock():
            del self._data[key]
            return None
        return entry[0]

    def _put(self, key: str, value: str, ttl: float) -> None:
        self._data.pop(key, None)
        self._data[key] = (value, self.clock() + ttl)
        now = self.clock()
        while self._data:
            oldest_key, (_, expires) = next(iter(self._data.items()))
            if expires > now and len(self._data) <= self.max_entries:
                break
            del self._data[oldest_key]

    async def add(self, key: str, value: str, ttl: float) -> bool:
        if self._live(key) is not None:
            return False
        self._put(key, value, ttl)
        return True

    async def get(self, key: str) -> str | None:
        return self._live(key)

    async def set(self, key: str, value: str, ttl: float) -> None:
        self._put(key, value, ttl)

    async def delete(self, key: str) -> None:
        self._data.pop(key, None)


class NonceGuard:
    """A (timestamp, nonce) pair is good for one request body: a second, different body with
    the same pair is a replay. The identical request again is Tencent's retry (or a replay that
    can only get the answer already given: the delivery log never runs it twice)."""

    def __init__(self, store: TTLStore) -> None:
        self.store = store

    async def first_use(self, timestamp: str, nonce: str, body_digest: str) -> bool:
        key = f"wechat:nonce:{timestamp}:{nonce}"
        if await self.store.add(key, body_digest, NONCE_TTL):
            return True
        return await self.store.get(key) == body_digest


class DeliveryLog:
    """Each message (MsgId, or FromUserName+CreateTime for events) is run once, from the moment
    its first delivery arrives; its reply is delivered once, passively or pushed.

    States under `wechat:delivery:<key>`: "pending" while the assistant works, then the reply's
    parts as JSON. `wechat:delivered:<key>` says who delivered it ("passive" or "push"), set by
    whoever gets there first; `wechat:waiting:<key>` marks a retry that is waiting to answer."""

    PENDING = "pending"

    def __init__(self, store: TTLStore) -> None:
        self.store = store

    async def claim(self, key: str) -> bool:
        """True for the first delivery of a message: the caller runs it."""
        return await self.store.add(f"wechat:delivery:{key}", self.PENDING, DELIVERY_TTL)

    async def finish(self, key: str, parts: list[str]) -> None:
        await self.store.set(f"wechat:delivery:{key}", json.dumps(parts), DELIVERY_TTL)

    async def parts(self, key: str) -> list[str] | None:
        """The finished reply's parts, or None while it is still running (or unknown)."""
        raw = await self.store.get(f"wechat:delivery:{key}")
        if raw is None or raw == self.PENDING:
            return None
        return [str(part) for part in json.loads(raw)]

    async def take(self, key: str, how: str) -> bool:
        """True if the caller is the one to deliver the reply (`how`: passive or push)."""
        return await self.store.add(f"wechat:delivered:{key}", how, DELIVERY_TTL)

    async def delivered(self, key: str) -> str | None:
        return await self.store.get(f"wechat:delivered:{key}")

    async def wait_here(self, key: str, seconds: float) -> None:
        await self.store.set(f"wechat:waiting:{key}", "1", max(seconds, 0.01))

    async def stop_waiting(self, key: str) -> None:
        await self.store.delete(f"wechat:waiting:{key}")

    async def someone_waiting(self, key: str) -> bool:
        return await self.store.get(f"wechat:waiting:{key}") is not None


class OptionStore:
    """The payloads behind the last "回复 1 …" list sent to each user."""

    def __init__(self, store: TTLStore, ttl: float = OPTIONS_TTL) -> None:
        self.store = store
        self.ttl = ttl

    async def put(self, sender: str, payloads: list[str]) -> None:
        if payloads:
            await self.store.set(f"wechat:options:{sender}", json.dumps(payloads), self.ttl)
        else:
            await self.forget(sender)

    async def payload(self, sender: str, number: int) -> str | None:
        raw = await self.store.get(f"wechat:options:{sender}")
        payloads = json.loads(raw) if raw else []
        return str(payloads[number - 1]) if 1 <= number <= len(payloads) else None

    async def forget(self, sender: str) -> None:
        await self.store.delete(f"wechat:options:{sender}")


class Quota:
    """Tencent lets an account send a user 5 customer-service messages within 48 hours of that
    user's last message; a message beyond that fails (45047), so it is not even tried."""

    def __init__(
        self,
        store: TTLStore,
        clock: Callable[[], float] = time.time,
        messages: int = QUOTA_MESSAGES,
        window: float = QUOTA_WINDOW,
    ) -> None:
        self.store, self.clock, self.messages, self.window = store, clock, messages, window

    async def user_spoke(self, sender: str) -> None:
        data = {"since": self.clock(), "sent": 0}
        await self.store.set(f"wechat:quota:{sender}", json.dumps(data), self.window)

    async def spend(self, sender: str) -> bool:
        """True (and counted) if one more message may be sent to `sender` now."""
        raw = await self.store.get(f"wechat:quota:{sender}")
        data: dict[str, Any] = json.loads(raw) if raw else {}
        since = float(data.get("since", 0))
        left = since + self.window - self.clock()
        if not data or left <= 0 or int(data.get("sent", 0)) >= self.messages:
            return False
        data["sent"] = int(data.get("sent", 0)) + 1
        await self.store.set(f"wechat:quota:{sender}", json.dumps(data), left)
        return True

    async def forget(self, sender: str) -> None:
        await self.store.delete(f"wechat:quota:{sender}")


async def poll(seconds: float = POLL) -> None:
    await asyncio.sleep(seconds)
