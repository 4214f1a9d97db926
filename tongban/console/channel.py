"""The hotline console as a Rasa input channel: pages and JSON API at /console/ on Rasa's server.

Registered in credentials.yml as `tongban.console.channel.ConsoleInput` (option `feedback_db`, the
webchat channel's ratings database, default var/feedback.db). Everything else comes from
tongban.settings (TONGBAN_CONSOLE_DB, TONGBAN_CONSOLE_IDLE_MINUTES, ...). Routes:

    GET  /console/                    the console page (redirects to /console/login without a session)
    GET  /console/login               the login page
    GET  /console/static/<file>       files of web/console/
    GET  /console/api/login-token     a pre-login CSRF token (also set as a cookie)
    POST /console/api/login           {"name", "password"}            -> session cookie, csrf
    POST /console/api/logout
    GET  /console/api/me              who is signed in, their csrf token and navigation
    GET  /console/api/search?q=       ranked items, with the server time in ms
    GET  /console/api/places?q=       provinces and cities for the place pickers
    GET  /console/api/card?item=&home=&at=&date=YYYY-MM-DD   the item card
    POST /console/api/cases/lookup    {"case", "last4"}               (rate-limited, audited)
    POST /console/api/cases/history   {"token"}                        (audited)
    GET  /console/api/ratings         好差评 grouped by item and answer
    GET  /console/api/ratings.csv     (admin)
    GET  /console/api/audit?agent=&action=&result=&from=&to=   (admin)
    GET  /console/api/audit.csv       (admin, same filters)

Every /console/api route but login-token and login needs a session (401 otherwise); every POST
needs the session's CSRF token in X-CSRF-Token (403). Bad input is a 4xx with a Chinese message.
This channel receives no user messages for Rasa.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from tongban.assistant import Tongban
from tongban.cases.service import CaseService
from tongban.channels import server
from tongban.channels.client import request_client_key
from tongban.channels.feedback import feedback_store
from tongban.channels.inbound import BadRequest, parse_json_object
from tongban.channels.webchat import (
    CONTENT_TYPES,
    DEFAULT_FEEDBACK_DB,
    drop_cors_headers,
    resolve_static,
)
from tongban.console.auth import (
    COOKIE,
    CSRF_HEADER,
    LOGIN_COOKIE,
    NO_STORE,
    Auth,
    LoginStatus,
    error,
    guard,
    json_reply,
    same_origin,
    tokens_match,
)
from tongban.console.card import item_card, place_suggestions
from tongban.console.cases import ConsoleCases
from tongban.console.pg_stores import console_stores
from tongban.console.ratings import (
    AnswerLog,
    answer_log,
    group_ratings,
    ratings_csv,
    read_ratings,
    safe_cell,
)
from tongban.console.search import ConsoleSearch
from tongban.console.shell import NAV, NavEntry, nav_for
from tongban.console.stores import AuditQuery, ConsoleStores, iter_csv_rows
from tongban.errors import TongbanError
from tongban.security.keys import Keys
from tongban.settings import settings

logger = logging.getLogger(__name__)

MAX_BODY = 4096
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": PAGE_CSP,
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


class ConsoleInput(InputChannel):
    """The hotline staff console (热线工作台)."""

    @classmethod
    def name(cls) -> str:
        return "console"

    def url_prefix(self) -> str:
        return "/console"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        credentials = credentials or {}
        return cls(feedback_db=credentials.get("feedback_db") or DEFAULT_FEEDBACK_DB)

    def __init__(
        self,
        feedback_db: str | Path = DEFAULT_FEEDBACK_DB,
        stores: ConsoleStores | None = None,
        auth: Auth | None = None,
        tongban: Tongban | None = None,
        cases: CaseService | None = None,
        answers: AnswerLog | None = None,
        nav: tuple[NavEntry, ...] = NAV,
        web_root: Path | None = None,
    ) -> None:
        config = settings()
        self.feedback_db = Path(feedback_db)
        self.stores = stores or console_stores(config)  # SQLite, or PostgreSQL by settings
        self.auth = auth or Auth(
            self.stores,
            Keys(config.secret_key),
            idle_seconds=config.console_idle_minutes * 60,
            secure_cookie=config.console_secure_cookie,
        )
        self.tongban = tongban
        self.search: ConsoleSearch | None = ConsoleSearch(tongban) if tongban else None
        self.case_service = cases
        self.cases: ConsoleCases | None = ConsoleCases(cases, self.auth) if cases else None
        # The stores the webchat and socket.io channels write to (SQLite, or PostgreSQL).
        self.feedback = feedback_store(self.feedback_db, config)
        self.answers = answers or answer_log(config)
        self.nav = nav
        self.web_root = web_root or config.web_dir / "console"

    def _load(self) -> None:
        """The knowledge base and the case service, once, at server start (about 2 s)."""
        if self.tongban is None:
            self.tongban = Tongban.load(warm=True)
        if self.search is None:
            self.search = ConsoleSearch(self.tongban)
            for query in ("结婚登记", "我想换驾照", "jhdj", "结昏"):  # warm the pinyin caches
                self.search.search(query)
        if self.cases is None:
            self.case_service = self.case_service or CaseService.from_env()
            self.cases = ConsoleCases(self.case_service, self.auth)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        console = Blueprint("console")
        server.install(console)
        auth = self.auth
        staff_only = guard(auth)
        admin_only = guard(auth, role="admin")

        @console.listener("before_server_start")
        async def load(_app: Any, _loop: Any) -> None:
            await asyncio.to_thread(self._load)

        async def send_file(relative: str, extra: dict[str, str] | None = None) -> HTTPResponse:
            path = resolve_static(self.web_root, relative)
            if path is None:
                return response.text("未找到 / not found", status=404, headers=NO_STORE)
            headers = dict(PAGE_HEADERS) if path.suffix == ".html" else {
                "X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"
            }  # fmt: skip
            return await response.file(
                path, mime_type=CONTENT_TYPES[path.suffix.lower()], headers=headers | (extra or {})
            )

        def body_of(request: Request) -> dict[str, Any]:
            return parse_json_object(request.body, max_bytes=MAX_BODY)

        def ready() -> bool:
            return self.tongban is not None and self.search is not None and self.cases is not None

        not_ready = "工作台正在启动，请稍候再试"

        # -- pages ------------------------------------------------------------------------

        @console.route("/", methods=["GET"])
        async def index(request: Request) -> HTTPResponse:
            if not request.path.endswith("/"):
                return response.redirect(f"{request.path}/")
            return await _index(request)

        @guard(auth, page=True)
        async def _index(request: Request) -> HTTPResponse:
            return await send_file("index.html")

        @console.route("/login", methods=["GET"])
        async def login_page(request: Request) -> HTTPResponse:
            if await asyncio.to_thread(auth.session_for, request.cookies.get(COOKIE)):
                return response.redirect("/console/", headers=NO_STORE)
            return await send_file("login.html")

        @console.route("/static/<relative:path>", methods=["GET"])
        async def static(_: Request, relative: str) -> HTTPResponse:
            if relative.endswith(".html"):
                return response.text("未找到 / not found", status=404, headers=NO_STORE)
            return await send_file(relative)

        # -- signing in and out -----------------------------------------------------------

        @console.route("/api/login-token", methods=["GET"])
        async def login_token(_: Request) -> HTTPResponse:
            reply = json_reply({"ok": True})
            token = auth.new_login_token(reply)
            reply.body = json_reply({"ok": True, "token": token}).body
            return reply

        @console.route("/api/login", methods=["POST"])
        async def login(request: Request) -> HTTPResponse:
            if not same_origin(request) or not tokens_match(
                request.headers.get(CSRF_HEADER), request.cookies.get(LOGIN_COOKIE)
            ):
                return error(403, "登录页已过期，请刷新页面后再登录（CSRF）")
            try:
                data = body_of(request)
            except BadRequest as exc:
                return error(exc.status, str(exc))
            name, password = data.get("name"), data.get("password")
            if (
                not isinstance(name, str)
                or not isinstance(password, str)
                or not name
                or not password
            ):
                return error(400, "请输入账号和密码")
            if len(name) > 64 or len(password) > 256:
                return error(400, "账号或密码过长")
            result = await asyncio.to_thread(
                auth.login, name.strip(), password, request_client_key(request)
            )
            if result.status is LoginStatus.LOCKED:
                return error(
                    429,
                    f"登录失败次数过多，请 {result.retry_minutes} 分钟后再试，或请管理员协助。",
                    retry_minutes=result.retry_minutes,
                )
            if result.status is LoginStatus.BAD:
                return error(401, "账号或密码不对")
            assert result.session and result.staff
            reply = json_reply(
                {"ok": True, "name": result.staff.name, "role": result.staff.role,
                 "csrf": result.session.csrf}
            )  # fmt: skip
            auth.set_cookie(reply, COOKIE, result.token, auth.max_seconds)
            auth.clear_cookie(reply, LOGIN_COOKIE)
            return reply

        @console.route("/api/logout", methods=["POST"])
        @staff_only
        async def logout(request: Request) -> HTTPResponse:
            await asyncio.to_thread(auth.logout, request.ctx.console)
            reply = json_reply({"ok": True, "login": "/console/login"})
            auth.clear_cookie(reply, COOKIE)
            return reply

        @console.route("/api/me", methods=["GET"])
        @staff_only
        async def me(request: Request) -> HTTPResponse:
            who = request.ctx.console
            return json_reply(
                {"ok": True, "name": who.name, "role": who.role, "csrf": who.session.csrf,
                 "idle_seconds": auth.idle_seconds, "nav": nav_for(who.role, self.nav)}
            )  # fmt: skip

        # -- answering a caller -----------------------------------------------------------

        @console.route("/api/search", methods=["GET"])
        @staff_only
        async def search(request: Request) -> HTTPResponse:
            if not ready():
                return error(503, not_ready)
            query = request.args.get("q", "")
            hits, ms = self.search.timed(query, limit=10)
            return json_reply(
                {"ok": True, "query": query[:100], "ms": round(ms, 2),
                 "results": [h.__dict__ for h in hits]}
            )  # fmt: skip

        @console.route("/api/places", methods=["GET"])
        @staff_only
        async def places(request: Request) -> HTTPResponse:
            if not ready():
                return error(503, not_ready)
            return json_reply(
                {"ok": True, "results": place_suggestions(self.tongban, request.args.get("q", ""))}
            )

        @console.route("/api/card", methods=["GET"])
        @staff_only
        async def card(request: Request) -> HTTPResponse:
            if not ready():
                return error(503, not_ready)
            args = {
                k: (request.args.get(k) or "").strip()[:40] or None
                for k in ("item", "home", "at", "date")
            }
            try:
                body = item_card(self.tongban, args["item"], args["home"], args["at"], args["date"])
            except TongbanError as exc:
                return error(400, str(exc))
            return json_reply({"ok": True, **body})

        # -- cases ------------------------------------------------------------------------

        @console.route("/api/cases/lookup", methods=["POST"])
        @staff_only
        async def case_lookup(request: Request) -> HTTPResponse:
            if not ready():
                return error(503, not_ready)
            try:
                data = body_of(request)
            except BadRequest as exc:
                return error(exc.status, str(exc))
            result = await asyncio.to_thread(
                self.cases.lookup, request.ctx.console, data.get("case"), data.get("last4"),
                request_client_key(request),
            )  # fmt: skip
            return json_reply(result.body, result.status)

        @console.route("/api/cases/history", methods=["POST"])
        @staff_only
        async def case_history(request: Request) -> HTTPResponse:
            if not ready():
                return error(503, not_ready)
            try:
                data = body_of(request)
            except BadRequest as exc:
                return error(exc.status, str(exc))
            result = await asyncio.to_thread(
                self.cases.history, request.ctx.console, data.get("token")
            )
            return json_reply(result.body, result.status)

        # -- 好差评 ------------------------------------------------------------------------

        def item_names() -> dict[str, str]:
            return {i.id: i.name for i in self.tongban.kb.items.values()} if self.tongban else {}

        @console.route("/api/ratings", methods=["GET"])
        @staff_only
        async def ratings(_: Request) -> HTTPResponse:
            rows = await asyncio.to_thread(read_ratings, self.feedback, self.answers)
            groups = group_ratings(rows, item_names())
            up = sum(g["up"] for g in groups)
            down = sum(g["down"] for g in groups)
            return json_reply({"ok": True, "up": up, "down": down, "items": groups})

        @console.route("/api/ratings.csv", methods=["GET"])
        @admin_only
        async def ratings_export(request: Request) -> HTTPResponse:
            rows = await asyncio.to_thread(read_ratings, self.feedback, self.answers)
            auth.audit(request.ctx.console.name, "export", f"ratings:{len(rows)}")
            return csv_reply(ratings_csv(rows, item_names()), "ratings")

        # -- the audit log ----------------------------------------------------------------

        def audit_query(request: Request, limit: int) -> AuditQuery:
            def day(name: str, plus: int = 0) -> float | None:
                value = (request.args.get(name) or "").strip()
                if not value:
                    return None
                try:
                    start = dt.datetime.combine(dt.date.fromisoformat(value), dt.time())
                except ValueError:
                    raise BadRequest(f"日期格式不对（{name}）：请用 YYYY-MM-DD") from None
                return (start + dt.timedelta(days=plus)).astimezone().timestamp()

            def text(name: str) -> str | None:
                return (request.args.get(name) or "").strip()[:64] or None

            return AuditQuery(
                agent=text("agent"), action=text("action"), result=text("result"),
                since=day("from"), until=day("to", plus=1), limit=limit,
            )  # fmt: skip

        @console.route("/api/audit", methods=["GET"])
        @admin_only
        async def audit(request: Request) -> HTTPResponse:
            try:
                query = audit_query(request, limit=500)
            except BadRequest as exc:
                return error(400, str(exc))
            entries = await asyncio.to_thread(auth.stores.audit.query, query)
            return json_reply({"ok": True, "entries": [e.__dict__ for e in entries]})

        @console.route("/api/audit.csv", methods=["GET"])
        @admin_only
        async def audit_export(request: Request) -> HTTPResponse:
            try:
                query = audit_query(request, limit=100_000)
            except BadRequest as exc:
                return error(400, str(exc))
            entries = await asyncio.to_thread(auth.stores.audit.query, query)
            auth.audit(request.ctx.console.name, "export", f"audit:{len(entries)}")
            out = io.StringIO()
            writer = csv.writer(out)
            for row in iter_csv_rows(entries):
                writer.writerow([safe_cell(str(cell)) for cell in row])
            return csv_reply("\ufeff" + out.getvalue(), "audit")

        @console.middleware("response")
        async def same_origin_only(_: Request, reply: HTTPResponse) -> None:
            # Runs after Rasa's CORS extension (TONGBAN_CORS_ORIGINS is for the chat widget's
            # host sites): no other site may read the console's answers.
            drop_cors_headers(reply)

        @console.route("/api/<rest:path>", methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
        async def unknown(_: Request, rest: str) -> HTTPResponse:
            return error(404, "没有这个接口")

        return console


def csv_reply(text: str, name: str) -> HTTPResponse:
    stamp = dt.date.today().isoformat()
    return response.text(
        text,
        content_type="text/csv; charset=utf-8",
        headers=NO_STORE | {"Content-Disposition": f'attachment; filename="{name}-{stamp}.csv"'},
    )
