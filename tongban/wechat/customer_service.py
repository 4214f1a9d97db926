"""Tencent's customer-service API (客服消息), for answers that miss the 5-second passive reply.

- the access_token is cached until 60 s before it expires, and fetched by one request at a time
  (each fetch invalidates the previous token, so concurrent sends must not fetch twice);
- a send that fails with 40001, 40014 or 42001 (token invalid or expired) refetches once and
  retries once;
- every failure is logged with Tencent's errcode (never the text or the OpenID) and returns False.

The IP address the server calls from must be on the account's IP whitelist (40164 otherwise).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import aiohttp

log = logging.getLogger(__name__)

TOKEN_ERRORS = frozenset({40001, 40014, 42001})
REFRESH_MARGIN = 60.0
TIMEOUT = aiohttp.ClientTimeout(total=10)


class CustomerServiceError(Exception):
    def __init__(self, code: int | str, message: str = "") -> None:
        super().__init__(f"{code} {message}".strip())
        self.code = code


class CustomerService:
    def __init__(
        self,
        appid: str,
        appsecret: str,
        api_base: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.appid, self.appsecret, self.api_base = appid, appsecret, api_base.rstrip("/")
        self.clock = clock
        self.token_fetches = 0
        self._token: str | None = None
        self._expires = 0.0
        self._lock: asyncio.Lock | None = None
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=TIMEOUT)
        return self._session

    async def _json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            async with self._http().request(method, self.api_base + path, **kwargs) as response:
                if response.status != 200:
                    raise CustomerServiceError(f"http{response.status}")
                data = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise CustomerServiceError("network", type(exc).__name__) from None
        if not isinstance(data, dict):
            raise CustomerServiceError("format")
        return data

    async def access_token(self, stale: str | None = None) -> str:
        """The cached token; fetched when missing, near expiry, or equal to `stale` (the one a
        send was just refused with). Concurrent callers share one fetch."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            fresh = self._token and self.clock() < self._expires - REFRESH_MARGIN
            if fresh and self._token != stale:
                return self._token  # type: ignore[return-value]
            self.token_fetches += 1
            data = await self._json(
                "GET",
                "/cgi-bin/token",
                params={
                    "grant_type": "client_credential",
                    "appid": self.appid,
                    "secret": self.appsecret,
                },
            )
            token = data.get("access_token")
            if not isinstance(token, str) or not token:
                raise CustomerServiceError(data.get("errcode", "no_token"), "token")
            self._token = token
            self._expires = self.clock() + float(data.get("expires_in") or 7200)
            return token

    async def send_text(self, openid: str, content: str) -> bool:
        """Push one text message to `openid`; True if Tencent accepted it."""
        body = {"touser": openid, "msgtype": "text", "text": {"content": content}}
        token: str | None = None
        try:
            for attempt in (1, 2):
                token = await self.access_token(stale=token if attempt == 2 else None)
                data = await self._json(
                    "POST",
                    "/cgi-bin/message/custom/send",
                    params={"access_token": token},
                    json=body,
                )
                code = int(data.get("errcode") or 0)
                if code == 0:
                    return True
                if code in TOKEN_ERRORS and attempt == 1:
                    log.info("WeChat customer-service token refused (%s); refreshing once", code)
                    continue
                raise CustomerServiceError(code)
        except CustomerServiceError as exc:
            log.error("WeChat customer-service message not sent: errcode %s", exc.code)
        return False
