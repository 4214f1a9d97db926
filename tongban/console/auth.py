"""Logins, sessions, CSRF and lockout for the console, and the route guards every console module uses.

- Sessions: a 256-bit random token in an HttpOnly, SameSite=Strict cookie scoped to /console; the
  store keeps only its keyed hash. A session ends on logout, after `idle_seconds` without a
  request, or `max_seconds` after login, whichever comes first.
- CSRF: every state-changing request (anything but GET/HEAD/OPTIONS) must carry the session's
  token in X-CSRF-Token and, when the browser sends Origin, come from this origin. The login
  itself is protected the same way with a pre-login token (double submit: cookie and header).
- Lockout: failed logins are counted per (account, client address) and per client address, never
  per account alone or globally, so an attacker can lock out only what they attack from their own
  address; unknown names fail exactly like wrong passwords, in the same time.

`guard(auth, role=...)` wraps a Sanic handler: a page without a session redirects to the login
page, an API call gets 401 JSON, the wrong role 403. A later console module (issue 15 §2, 会话)
reuses `guard` and `Auth` on its own routes.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum
from functools import wraps
from typing import Any

from sanic import response
from sanic.request import Request
from sanic.response import HTTPResponse

from tongban.cases.limits import Limit
from tongban.console.passwords import (
    DEFAULT_COST,
    Cost,
    dummy_verify,
    hash_password,
    needs_rehash,
    verify_password,
)
from tongban.console.stores import AuditEntry, ConsoleStores, Session, Staff
from tongban.security.keys import Keys

COOKIE = "tongban_console"
LOGIN_COOKIE = "tongban_console_login"
COOKIE_PATH = "/console"
LOGIN_PAGE = "/console/login"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
TOUCH_EVERY = 30.0  # seconds: how stale last_seen may be before a request writes it again
LOGIN_TOKEN_SECONDS = 3600

LOGIN_ACCOUNT_CLIENT = Limit("login", 5, 900)
"""5 failed logins for one account from one client address in 15 minutes lock that pair for the
rest of the window: the account still works from every other address."""

LOGIN_CLIENT = Limit("login_client", 100, 900)
"""100 failed logins from one address, over all accounts, in 15 minutes (password spraying) lock
that address only. High, because a whole call centre may reach the console from one address."""

_PURPOSE = "console"
_NAME_CHARS = re.compile(r"[^A-Za-z0-9_.\-]")


class LoginStatus(str, Enum):
    OK = "ok"
    BAD = "bad"  # unknown account, wrong password or disabled: deliberately the same
    LOCKED = "locked"


@dataclass(frozen=True)
class LoginResult:
    status: LoginStatus
    token: str = ""
    session: Session | None = None
    staff: Staff | None = None
    retry_minutes: int = 0


@dataclass(frozen=True)
class Who:
    """The signed-in staff member of a request (request.ctx.console)."""

    name: str
    role: str
    session: Session


def audit_name(name: str) -> str:
    """An attempted account name as the audit log may show it: short and plain."""
    return _NAME_CHARS.sub("?", name or "")[:32] or "?"


class Auth:
    def __init__(
        self,
        stores: ConsoleStores,
        keys: Keys,
        idle_seconds: int = 1800,
        max_seconds: int = 12 * 3600,
        secure_cookie: bool = False,
        cost: Cost = DEFAULT_COST,
        clock: Callable[[], float] = time.time,
    ):
        self.stores, self.keys = stores, keys
        self.idle_seconds, self.max_seconds = idle_seconds, max_seconds
        self.secure_cookie, self.cost, self.clock = secure_cookie, cost, clock

    # -- helpers ---------------------------------------------------------------------------

    def _session_key(self, token: str) -> str:
        return self.keys.digest(f"{_PURPOSE}:session", token)

    def scope(self, kind: str, value: str) -> str:
        return self.keys.digest(f"{_PURPOSE}:limits", f"{kind}:{value}")

    def wait_minutes(self, limit: Limit, scope: str, now: float) -> int:
        since = now - limit.seconds
        counter = self.stores.counters
        if counter.count(scope, since) < limit.failures:
            return 0
        oldest = counter.oldest(scope, since) or now
        return max(1, int((oldest + limit.seconds - now) // 60) + 1)

    def audit(self, agent: str, action: str, result: str, case: str = "") -> None:
        self.stores.audit.add(AuditEntry(self.clock(), agent, action, case, result))

    # -- logins ----------------------------------------------------------------------------

    def login(self, name: str, password: str, client: str) -> LoginResult:
        """Check a password (slow: call it off the event loop) and open a session."""
        now = self.clock()
        scopes = [
            (LOGIN_ACCOUNT_CLIENT, self.scope("account_client", f"{name}\x00{client}")),
            (LOGIN_CLIENT, self.scope("client", client)),
        ]
        wait = max(self.wait_minutes(limit, scope, now) for limit, scope in scopes)
        if wait:
            self.audit(audit_name(name), "login_locked", "locked")
            return LoginResult(LoginStatus.LOCKED, retry_minutes=wait)
        staff = self.stores.staff.get(name) if name else None
        if staff is None:
            dummy_verify(password, self.cost)
            ok = False
        else:
            ok = verify_password(password, staff.password_hash) and staff.active
        if not ok:
            for _, scope in scopes:
                self.stores.counters.record(scope, now)
            self.audit(audit_name(name), "login_failed", "bad")
            return LoginResult(LoginStatus.BAD)
        if needs_rehash(staff.password_hash, self.cost):
            self.stores.staff.set_password(staff.name, hash_password(password, self.cost))
        token = secrets.token_urlsafe(32)
        session = Session(
            key=self._session_key(token), staff=staff.name, csrf=secrets.token_urlsafe(32),
            created=now, last_seen=now, client=client,
        )  # fmt: skip
        self.stores.sessions.prune(now - self.idle_seconds, now - self.max_seconds)
        self.stores.sessions.create(session)
        self.audit(staff.name, "login", "ok")
        return LoginResult(LoginStatus.OK, token, session, staff)

    def session_for(self, token: str | None) -> Who | None:
        """The staff member a cookie token belongs to, if the session is still open."""
        if not token or len(token) > 128:
            return None
        key = self._session_key(token)
        session = self.stores.sessions.get(key)
        if session is None:
            return None
        now = self.clock()
        if now - session.last_seen > self.idle_seconds or now - session.created > self.max_seconds:
            self.stores.sessions.delete(key)
            return None
        staff = self.stores.staff.get(session.staff)
        if staff is None or not staff.active:
            self.stores.sessions.delete(key)
            return None
        if now - session.last_seen >= TOUCH_EVERY:
            self.stores.sessions.touch(key, now)
        return Who(staff.name, staff.role, session)

    def logout(self, who: Who) -> None:
        self.stores.sessions.delete(who.session.key)
        self.audit(who.name, "logout", "ok")

    # -- cookies ---------------------------------------------------------------------------

    def set_cookie(self, reply: HTTPResponse, name: str, value: str, max_age: int) -> None:
        reply.cookies[name] = value
        cookie = reply.cookies[name]
        cookie["path"] = COOKIE_PATH
        cookie["httponly"] = True
        cookie["samesite"] = "Strict"
        cookie["max-age"] = max_age
        if self.secure_cookie:
            cookie["secure"] = True

    def clear_cookie(self, reply: HTTPResponse, name: str) -> None:
        self.set_cookie(reply, name, "", 0)

    def new_login_token(self, reply: HTTPResponse) -> str:
        token = secrets.token_urlsafe(32)
        self.set_cookie(reply, LOGIN_COOKIE, token, LOGIN_TOKEN_SECONDS)
        return token


# -- Sanic glue ------------------------------------------------------------------------------

NO_STORE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


def json_reply(body: Any, status: int = 200) -> HTTPResponse:
    import json

    return response.json(
        body, status=status, headers=NO_STORE, dumps=lambda v: json.dumps(v, ensure_ascii=False)
    )


def error(status: int, message: str, **extra: Any) -> HTTPResponse:
    return json_reply({"ok": False, "error": message, **extra}, status)


def same_origin(request: Request) -> bool:
    from tongban.channels.webchat import same_origin as webchat_same_origin

    return webchat_same_origin(request)


def tokens_match(given: str | None, expected: str | None) -> bool:
    return bool(given and expected) and hmac.compare_digest(
        hashlib.sha256(given.encode()).digest(), hashlib.sha256(expected.encode()).digest()
    )


def csrf_ok(request: Request, who: Who) -> bool:
    """A state-changing request from this origin, carrying the session's CSRF token."""
    return same_origin(request) and tokens_match(request.headers.get(CSRF_HEADER), who.session.csrf)


Handler = Callable[..., Awaitable[HTTPResponse]]


def guard(auth: Auth, role: str | None = None, page: bool = False) -> Callable[[Handler], Handler]:
    """Only for a signed-in staff member (of `role`, if given; admins pass every role check).

    Pages redirect to the login page; API routes answer 401, 403 for the wrong role, and 403 for
    a state-changing request without the session's CSRF token or from another origin."""

    def decorate(handler: Handler) -> Handler:
        @wraps(handler)
        async def guarded(request: Request, *args: Any, **kwargs: Any) -> HTTPResponse:
            who = await asyncio.to_thread(auth.session_for, request.cookies.get(COOKIE))
            if who is None:
                if page:
                    return response.redirect(LOGIN_PAGE, headers=NO_STORE)
                return error(401, "请先登录（登录已过期或尚未登录）", login=LOGIN_PAGE)
            if request.method not in SAFE_METHODS and not csrf_ok(request, who):
                return error(403, "请求校验失败，请刷新页面后重试（CSRF）")
            if role is not None and who.role != role and who.role != "admin":
                if page:
                    return response.text("没有权限 / forbidden", status=403, headers=NO_STORE)
                return error(403, "没有权限：需要管理员账号")
            request.ctx.console = who
            return await handler(request, *args, **kwargs)

        return guarded

    return decorate
