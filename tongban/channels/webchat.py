"""The citizens' web chat: a Rasa input channel that serves the chat page and stores 好差评 ratings.

Registered in credentials.yml as `tongban.channels.webchat.WebChatInput` (options: `feedback_db`,
default var/feedback.db, relative to where Rasa runs; `web_root`, default TONGBAN_WEB, ./web).
Routes, under Rasa's /webhooks/webchat prefix:

- GET  /webhooks/webchat/                   the full-page chat (web/index.html)
- GET  /webhooks/webchat/static/<file>      files of web/, e.g. widget.js, the one-<script> widget
- POST /webhooks/webchat/feedback           {"session_id", "message_id", "rating": "up"|"down",
                                             "reason": optional, at most 500 characters}
- GET  /webhooks/webchat/feedback/summary   {"up": n, "down": n, "total": n}

Ratings are for the page itself, on this server's origin (the widget's iframe too): the feedback
route sends no CORS headers, even when Rasa runs with `--cors` (TONGBAN_CORS_ORIGINS in
tools/run.sh), and refuses a request whose Origin is another site. Only a message id the socket.io channel signed for that session is accepted
(403 otherwise; see `tongban.channels.feedback`).

The page talks to the socket.io channel (`tongban.channels.socketio`) for the conversation itself;
this channel receives no user messages, so `on_new_message` is not used.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from tongban.channels import server
from tongban.channels.feedback import FeedbackError, FeedbackStore, feedback_store, parse_feedback
from tongban.settings import settings

logger = logging.getLogger(__name__)

DEFAULT_FEEDBACK_DB = "var/feedback.db"

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/plain; charset=utf-8",
}

# The chat page runs only its own scripts and styles and talks only to its own origin (socket.io
# and the feedback endpoint): even a rendering bug could not run injected script.
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'"
)
COMMON_HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"}
NO_STORE = {"Cache-Control": "no-store"}
json_dumps = partial(json.dumps, ensure_ascii=False)


def resolve_static(root: Path, relative: str) -> Path | None:
    """The file of `root` that a URL path names, or None: no escaping the folder, no dotfiles."""
    if not relative or "\\" in relative or "\x00" in relative:
        return None
    parts = relative.split("/")
    if any(part in ("", ".", "..") or part.startswith(".") for part in parts):
        return None
    root = root.resolve()
    candidate = root.joinpath(*parts).resolve()
    if not candidate.is_relative_to(root) or not candidate.is_file():
        return None
    if candidate.suffix.lower() not in CONTENT_TYPES:
        return None
    return candidate


def headers_for(path: Path) -> dict[str, str]:
    headers = dict(COMMON_HEADERS)
    if path.suffix.lower() == ".html":
        headers["Content-Security-Policy"] = PAGE_CSP
        headers["Referrer-Policy"] = "no-referrer"
    return headers


def handle_feedback(store: FeedbackStore, body: bytes | None) -> tuple[int, dict[str, Any]]:
    """Validate and store one rating: (HTTP status, JSON body)."""
    try:
        feedback = parse_feedback(body)
    except FeedbackError as exc:
        return exc.status, {"ok": False, "error": str(exc)}
    store.save(feedback)
    return 201, {"ok": True}


def same_origin(request: Request) -> bool:
    """False when the browser says the request comes from a page of another site.

    Browsers send Origin with every POST made by fetch; a request without one (curl, a server)
    is not a cross-site request of a browser and is judged by its body alone. Host and port are
    compared, not the scheme: behind a TLS proxy the page is https and the request here http."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    host = request.headers.get("host", "")
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and bool(host) and parts.netloc.lower() == host.lower()


def drop_cors_headers(response: HTTPResponse) -> None:
    for name in [key for key in response.headers if key.lower().startswith("access-control-")]:
        del response.headers[name]


class WebChatInput(InputChannel):
    """Serves web/ and the 好差评 endpoints; the chat itself goes through Rasa's socket.io channel."""

    @classmethod
    def name(cls) -> str:
        return "webchat"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        credentials = credentials or {}
        return cls(
            feedback_db=credentials.get("feedback_db") or DEFAULT_FEEDBACK_DB,
            web_root=credentials.get("web_root"),
        )

    def __init__(
        self, feedback_db: str | Path = DEFAULT_FEEDBACK_DB, web_root: str | Path | None = None
    ) -> None:
        self.web_root = Path(web_root) if web_root else settings().web_dir
        self.store = feedback_store(feedback_db)  # SQLite, or PostgreSQL by settings

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        web_root = self.web_root
        store = self.store
        webchat = Blueprint("webchat_webhook")
        server.install(webchat)

        async def send_file(relative: str) -> HTTPResponse:
            path = resolve_static(web_root, relative)
            if path is None:
                return response.text("未找到 / not found", status=404, headers=COMMON_HEADERS)
            return await response.file(
                path, mime_type=CONTENT_TYPES[path.suffix.lower()], headers=headers_for(path)
            )

        @webchat.route("/", methods=["GET"])
        async def index(request: Request) -> HTTPResponse:
            # Sanic also routes /webhooks/webchat here; the page's relative links need the slash.
            if not request.path.endswith("/"):
                query = f"?{request.query_string}" if request.query_string else ""
                return response.redirect(f"{request.path}/{query}")
            return await send_file("index.html")

        @webchat.route("/static/<relative:path>", methods=["GET"])
        async def static(_: Request, relative: str) -> HTTPResponse:
            return await send_file(relative)

        @webchat.route("/feedback", methods=["POST"])
        async def feedback(request: Request) -> HTTPResponse:
            if not same_origin(request):
                return response.json(
                    {"ok": False, "error": "只接受本站页面的评价 / same origin only"},
                    status=403,
                    headers=NO_STORE,
                    dumps=json_dumps,
                )
            try:
                status, body = await asyncio.to_thread(handle_feedback, store, request.body)
            except Exception:  # a broken database must not take the chat down with it
                logger.exception("Could not store feedback in %s", store.path)
                status, body = 500, {"ok": False, "error": "评价暂时无法保存 / could not store"}
            return response.json(body, status=status, headers=NO_STORE, dumps=json_dumps)

        @webchat.route("/feedback", methods=["OPTIONS"])
        async def feedback_preflight(_: Request) -> HTTPResponse:
            # Rasa's CORS extension answers every preflight before any handler runs; this route
            # exists so that the middleware below can take its CORS headers off again.
            return response.empty(headers=NO_STORE)

        @webchat.middleware("response")
        async def same_origin_only(request: Request, reply: HTTPResponse) -> None:
            # Blueprint response middleware runs after the app's (sanic-cors) middleware.
            if request.path.rstrip("/").endswith("/feedback"):
                drop_cors_headers(reply)

        @webchat.route("/feedback/summary", methods=["GET"])
        async def feedback_summary(_: Request) -> HTTPResponse:
            counts = await asyncio.to_thread(store.summary)
            return response.json(counts, headers=NO_STORE, dumps=json_dumps)

        return webchat
