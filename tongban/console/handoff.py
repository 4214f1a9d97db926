"""The console's conversations (会话, human handoff): the queue, taking a conversation, its
transcript, replying, handing back or closing, and callback requests, at /console/conversations/.

A Rasa input channel of its own (credentials.yml: `tongban.console.handoff.HandoffConsoleInput`)
under /console, with the console's sign-in, CSRF and roles (tongban.console.auth) over the same
staff database; the work is done by tongban.handoff. Routes (all need a session; POSTs need the
session's CSRF token):

    GET  /console/conversations/                          the page
    GET  /console/api/handoff/queue                       queued, being served, callback requests
    GET  /console/api/handoff/conversations/<id>?after=   one conversation and its transcript (masked)
    POST /console/api/handoff/conversations/<id>/take     the agent takes it; the bot is paused
    POST /console/api/handoff/conversations/<id>/reply    {"text", "client_id"?} to the citizen
    POST /console/api/handoff/conversations/<id>/handback the bot answers again
    POST /console/api/handoff/conversations/<id>/close    {"note"?} ends it with a note
    POST /console/api/handoff/callbacks/<id>/reveal       the full number (audited, rate-limited)
    POST /console/api/handoff/callbacks/<id>/done         called back
"""

from __future__ import annotations

import logging
import re
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from tongban.channels.inbound import BadRequest, parse_json_object
from tongban.channels.webchat import CONTENT_TYPES, resolve_static
from tongban.console.auth import NO_STORE, Auth, error, guard, json_reply
from tongban.console.pg_stores import console_stores
from tongban.handoff import HandoffError, HandoffService, hub
from tongban.handoff.channels import install_control
from tongban.security.keys import Keys
from tongban.settings import settings

log = logging.getLogger(__name__)

PAGE = "handoff.html"
MAX_BODY = 8192
CLIENT_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")
REVEALS_PER_HOUR = 30  # full callback numbers one agent may see in an hour
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


class WindowLimit:
    """At most `limit` events per key in `window` seconds, in this process."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic):
        self.limit, self.window, self.clock = limit, window, clock
        self._events: dict[str, deque[float]] = defaultdict(deque)

    def allow(self, key: str) -> bool:
        now = self.clock()
        events = self._events[key]
        while events and events[0] <= now - self.window:
            events.popleft()
        if len(events) >= self.limit:
            return False
        events.append(now)
        return True


class HandoffConsoleInput(InputChannel):
    """Conversations handed over to the hotline agents (会话)."""

    @classmethod
    def name(cls) -> str:
        return "console_handoff"

    def url_prefix(self) -> str:
        return "/console"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        return cls()

    def __init__(
        self,
        auth: Auth | None = None,
        service: HandoffService | None = None,
        web_root: Path | None = None,
    ) -> None:
        config = settings()
        # The console's own sign-in over the same staff database and keys: one session for both.
        self.auth = auth or Auth(
            console_stores(config),  # SQLite, or PostgreSQL by settings
            Keys(config.secret_key),
            idle_seconds=config.console_idle_minutes * 60,
            secure_cookie=config.console_secure_cookie,
        )
        self.service = service
        self.web_root = web_root or config.web_dir / "console"
        self.reveals = WindowLimit(REVEALS_PER_HOUR, 3600)

    def _service(self) -> HandoffService:
        if self.service is None:
            self.service = hub()
        return self.service

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        bp = Blueprint("console_handoff")
        install_control(bp)
        auth = self.auth
        staff_only = guard(auth)

        def audit(request: Request, action: str, result: str) -> None:
            auth.audit(request.ctx.console.name, action, result)

        async def run(work: Callable[[], Awaitable[dict[str, Any]]]) -> HTTPResponse:
            try:
                return json_reply({"ok": True, **(await work())})
            except BadRequest as exc:
                return error(exc.status, str(exc))
            except HandoffError as exc:
                return error(exc.status, str(exc))
            except Exception as exc:  # never a traceback: the agent can try again
                log.error("handoff console: %s", type(exc).__name__)
                return error(503, "暂时无法完成，请稍后再试")

        def body_of(request: Request) -> dict[str, Any]:
            return parse_json_object(request.body, max_bytes=MAX_BODY) if request.body else {}

        @bp.route("/conversations/", methods=["GET"])
        async def page_route(request: Request) -> HTTPResponse:
            if not request.path.endswith("/"):
                return response.redirect("/console/conversations/", headers=NO_STORE)
            return await page(request)

        @guard(auth, page=True)
        async def page(_: Request) -> HTTPResponse:
            path = resolve_static(self.web_root, PAGE)
            if path is None:
                return response.text("未找到 / not found", status=404, headers=NO_STORE)
            return await response.file(
                path, mime_type=CONTENT_TYPES[".html"], headers=dict(PAGE_HEADERS)
            )

        @bp.route("/api/handoff/queue", methods=["GET"])
        @staff_only
        async def queue(_: Request) -> HTTPResponse:
            async def work() -> dict[str, Any]:
                return self._service().queue()

            return await run(work)

        @bp.route("/api/handoff/conversations/<ticket:int>", methods=["GET"])
        @staff_only
        async def conversation(request: Request, ticket: int) -> HTTPResponse:
            async def work() -> dict[str, Any]:
                try:
                    after = float(request.args.get("after") or 0)
                except ValueError:
                    raise BadRequest("after 应为数字") from None
                return await self._service().conversation(ticket, after=max(after, 0.0))

            return await run(work)

        @bp.route("/api/handoff/conversations/<ticket:int>/take", methods=["POST"])
        @staff_only
        async def take(request: Request, ticket: int) -> HTTPResponse:
            async def work() -> dict[str, Any]:
                taken = await self._service().take(ticket, request.ctx.console.name)
                audit(request, "handoff_take", f"ticket:{taken.id}")
                return {"state": taken.state}

            return await run(work)

        @bp.route("/api/handoff/conversations/<ticket:int>/reply", methods=["POST"])
        @staff_only
        async def reply(request: Request, ticket: int) -> HTTPResponse:
            async def work() -> dict[str, Any]:
                data = body_of(request)
                text, client_id = data.get("text"), data.get("client_id")
                if not isinstance(text, str):
                    raise BadRequest("请输入要发送的内容")
                if client_id is not None and not (
                    isinstance(client_id, str) and CLIENT_ID.fullmatch(client_id)
                ):
                    raise BadRequest("client_id 格式不对")
                message, delivered = await self._service().reply(
                    ticket, request.ctx.console.name, text, client_id
                )
                audit(request, "handoff_reply", f"ticket:{ticket}")
                return {"message_id": message.message_id, "delivered": delivered}

            return await run(work)

        async def end(request: Request, ticket: int, close: bool) -> HTTPResponse:
            async def work() -> dict[str, Any]:
                note = body_of(request).get("note") if close else None
                if note is not None and not isinstance(note, str):
                    raise BadRequest("备注应为文字")
                ended = await self._service().end(ticket, request.ctx.console.name, close, note)
                audit(request, "handoff_close" if close else "handoff_handback", f"ticket:{ticket}")
                return {"state": ended.state}

            return await run(work)

        @bp.route("/api/handoff/conversations/<ticket:int>/handback", methods=["POST"])
        @staff_only
        async def handback(request: Request, ticket: int) -> HTTPResponse:
            return await end(request, ticket, close=False)

        @bp.route("/api/handoff/conversations/<ticket:int>/close", methods=["POST"])
        @staff_only
        async def close(request: Request, ticket: int) -> HTTPResponse:
            return await end(request, ticket, close=True)

        @bp.route("/api/handoff/callbacks/<callback:int>/reveal", methods=["POST"])
        @staff_only
        async def reveal(request: Request, callback: int) -> HTTPResponse:
            async def work() -> dict[str, Any]:
                if not self.reveals.allow(request.ctx.console.name):
                    raise HandoffError("查看完整号码的次数过多，请稍后再试", status=429)
                phone = self._service().reveal_callback(callback)
                audit(request, "callback_reveal", f"callback:{callback}")
                return {"phone": phone}

            return await run(work)

        @bp.route("/api/handoff/callbacks/<callback:int>/done", methods=["POST"])
        @staff_only
        async def callback_done(request: Request, callback: int) -> HTTPResponse:
            async def work() -> dict[str, Any]:
                done = self._service().finish_callback(callback, request.ctx.console.name)
                audit(request, "callback_done", f"callback:{callback}")
                return {"state": done.state}

            return await run(work)

        return bp
