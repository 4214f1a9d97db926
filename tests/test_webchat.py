"""The web chat channel without a browser: 好差评 validation and storage, static files, routes.

The routes are exercised through Sanic's ASGI interface on a throwaway app, so no server or port
is needed; tests/browser drives the real page against the real servers.
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import uuid
from pathlib import Path

import pytest
import yaml
from sanic import Sanic

from tests.asgi import AsgiClient
from tongban.channels.feedback import (
    MAX_BODY,
    MAX_REASON,
    Feedback,
    FeedbackError,
    FeedbackStore,
    new_message_id,
    parse_feedback,
    validate_feedback,
)
from tongban.channels.socketio import SocketIOInput
from tongban.channels.webchat import (
    WebChatInput,
    handle_feedback,
    resolve_static,
)
from tongban.security.keys import Keys
from tongban.settings import settings

# server.install's listeners run early under ASGI; Sanic says so on every app.
pytestmark = pytest.mark.filterwarnings("ignore:You have set a listener:UserWarning")

ROOT = Path(__file__).resolve().parent.parent
WEB = ROOT / "web"


SESSION = "S" * 20 + "s" * 12  # a session id in the server's format (32-64 characters)
OTHER_SESSION = "O" * 32
MESSAGE = new_message_id(SESSION)  # as the socket.io channel signs the messages it sends


def body(**fields) -> bytes:
    data = {"session_id": SESSION, "message_id": MESSAGE, "rating": "up"} | fields
    return json.dumps({k: v for k, v in data.items() if v is not ...}).encode()


# -- validation -------------------------------------------------------------------------------


def test_valid_rating_without_reason() -> None:
    assert parse_feedback(body()) == Feedback(SESSION, MESSAGE, "up", None)


def test_reason_is_trimmed_and_empty_reason_is_none() -> None:
    assert parse_feedback(body(rating="down", reason="  材料写错了  ")).reason == "材料写错了"
    assert parse_feedback(body(reason="   ")).reason is None
    assert parse_feedback(body(reason=None)).reason is None


def test_reason_of_500_characters_is_accepted_501_is_not() -> None:
    assert len(parse_feedback(body(reason="好" * MAX_REASON)).reason) == MAX_REASON
    with pytest.raises(FeedbackError, match="500"):
        parse_feedback(body(reason="好" * (MAX_REASON + 1)))


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"rating": "meh"}, "rating"),
        ({"rating": None}, "rating"),
        ({"rating": ...}, "rating"),
        ({"session_id": ...}, "session_id"),
        ({"session_id": ""}, "session_id"),
        ({"session_id": "s1"}, "session_id"),
        ({"session_id": "a b" * 16}, "session_id"),
        ({"session_id": "x" * 65}, "session_id"),
        ({"session_id": 42}, "session_id"),
        ({"message_id": ...}, "message_id"),
        ({"message_id": "m1"}, "message_id"),
        ({"message_id": "<script>"}, "message_id"),
        ({"message_id": "../../etc"}, "message_id"),
        ({"message_id": MESSAGE + "x"}, "message_id"),
        ({"reason": 5}, "reason"),
        ({"reason": ["a"]}, "reason"),
        ({"reason": "\ud800"}, "reason"),
    ],
)
def test_invalid_fields_are_rejected(fields: dict, problem: str) -> None:
    with pytest.raises(FeedbackError, match=problem) as caught:
        parse_feedback(body(**fields))
    assert caught.value.status == 400


def forged_ids() -> dict[str, tuple[str, str]]:
    nonce, signature = MESSAGE.split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    return {
        "signature-changed": (SESSION, f"{nonce}.{flipped}"),
        "nonce-changed": (SESSION, f"{'x' * 16}.{signature}"),
        "made-up": (SESSION, f"{'a' * 16}.{'b' * 22}"),
        "another-session": (OTHER_SESSION, MESSAGE),
        "other-sessions-message": (SESSION, new_message_id(OTHER_SESSION)),
        "another-key": (SESSION, new_message_id(SESSION, Keys(b"someone else's key"))),
    }


@pytest.mark.parametrize("case", forged_ids())
def test_only_messages_the_server_sent_to_that_session_can_be_rated(case: str) -> None:
    session_id, message_id = forged_ids()[case]
    with pytest.raises(FeedbackError, match="not a message of this conversation") as caught:
        parse_feedback(body(session_id=session_id, message_id=message_id))
    assert caught.value.status == 403


def test_reasons_are_stored_with_identifiers_masked() -> None:
    reason = "查询办件 SC2025110300342 身份证后四位0032 手机13800138000 都对，还是查不到"
    stored = parse_feedback(body(rating="down", reason=reason)).reason
    assert "SC2025110300342" not in stored
    assert "0032" not in stored
    assert "13800138000" not in stored
    assert stored.startswith("查询办件 SC2") and stored.endswith("都对，还是查不到")


@pytest.mark.parametrize(
    "raw",
    [b"", None, b"not json", b"[1, 2]", b'"up"', b"\xff\xfe", b'{"rating": NaN}',
     b'{"rating": Infinity}', b"[" * 40 + b"]" * 40, b'{"a":' * 40 + b"1" + b"}" * 40],
    ids=["empty", "none", "not-json", "list", "string", "not-utf8", "nan", "infinity",
         "deep-list", "deep-object"],
)  # fmt: skip
def test_bodies_that_are_not_a_json_object_are_rejected(raw) -> None:
    with pytest.raises(FeedbackError):
        parse_feedback(raw)


def test_oversized_body_is_rejected_before_parsing() -> None:
    with pytest.raises(FeedbackError, match="too large") as caught:
        parse_feedback(b" " * (MAX_BODY + 1))
    assert caught.value.status == 413


def test_validate_feedback_takes_a_dict() -> None:
    data = {"session_id": SESSION, "message_id": MESSAGE, "rating": "down"}
    assert validate_feedback(data).rating == "down"


# -- storage ----------------------------------------------------------------------------------


def test_store_creates_its_folder_and_file_on_first_use(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "var" / "feedback.db"
    store = FeedbackStore(path)
    assert not path.exists()
    assert store.summary() == {"up": 0, "down": 0, "total": 0}
    assert path.is_file()


def test_store_counts_and_replaces_a_rating_of_the_same_answer(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "feedback.db")
    store.save(Feedback("s1", "m1", "up"))
    store.save(Feedback("s1", "m2", "down", "没说清楚去哪里办"))
    store.save(Feedback("s2", "m1", "up"))
    assert store.summary() == {"up": 2, "down": 1, "total": 3}
    # The same answer rated again: the newest rating and reason replace the old ones.
    store.save(Feedback("s1", "m1", "down", "过时了"))
    assert store.summary() == {"up": 1, "down": 2, "total": 3}
    assert store.get("s1", "m1") == Feedback("s1", "m1", "down", "过时了")
    assert store.get("nobody", "m1") is None


def test_store_lists_the_newest_ratings_first_for_the_console(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    store = FeedbackStore(tmp_path / "feedback.db")
    assert store.recent() == []
    for minute, message in enumerate(("m1", "m2", "m3")):
        store.save(Feedback("s1", message, "up"), datetime(2026, 1, 5, 9, minute, tzinfo=UTC))
    # Rated again later: it moves to the top with its new rating and reason.
    store.save(Feedback("s1", "m1", "down", "过时了"), datetime(2026, 1, 5, 10, 0, tzinfo=UTC))
    newest = store.recent(2)
    assert [(r.message_id, r.rating, r.reason) for r in newest] == [
        ("m1", "down", "过时了"), ("m3", "up", None)]  # fmt: skip
    assert newest[0].at == "2026-01-05T10:00:00+00:00"


def test_store_keeps_hostile_text_as_data(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "feedback.db")
    reason = "'); DROP TABLE feedback; -- <img src=x onerror=alert(1)>"
    store.save(Feedback("s1", "m1", "down", reason))
    assert store.get("s1", "m1").reason == reason
    with sqlite3.connect(tmp_path / "feedback.db") as conn:
        (count,) = conn.execute("SELECT COUNT(*) FROM feedback").fetchone()
    assert count == 1


def test_schema_refuses_ratings_other_than_up_and_down(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "feedback.db")
    store.summary()
    with sqlite3.connect(store.path) as conn, pytest.raises(sqlite3.IntegrityError):
        conn.execute(
            "INSERT INTO feedback (session_id, message_id, rating, created_at, updated_at)"
            " VALUES ('s', 'm', 'meh', 'now', 'now')"
        )


def test_handle_feedback_answers_201_400_or_403(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "feedback.db")
    assert handle_feedback(store, body(rating="down")) == (201, {"ok": True})
    status, reply = handle_feedback(store, body(rating="sideways"))
    assert status == 400
    assert reply["ok"] is False
    assert "rating" in reply["error"]
    status, reply = handle_feedback(store, body(session_id=OTHER_SESSION))
    assert status == 403
    assert reply["ok"] is False
    assert store.summary() == {"up": 0, "down": 1, "total": 1}


# -- static files -----------------------------------------------------------------------------


def test_web_root_is_the_settings_web_folder(monkeypatch, tmp_path: Path) -> None:
    """./web of the project folder by default (the tests run there, as make does), or TONGBAN_WEB."""
    assert settings().web_dir == WEB
    assert (WebChatInput().web_root / "index.html").is_file()
    monkeypatch.setenv("TONGBAN_WEB", str(tmp_path))
    settings.cache_clear()
    assert WebChatInput().web_root == tmp_path


@pytest.mark.parametrize(
    "relative",
    ["index.html", "chat.js", "render.js", "chat.css", "widget.js", "example-host.html",
     "vendor/socket.io.min.js"],
)  # fmt: skip
def test_page_files_are_served(relative: str) -> None:
    assert resolve_static(WEB, relative) == (WEB / relative).resolve()


@pytest.mark.parametrize(
    "relative",
    ["", "../README.md", "vendor/../../credentials.yml", "/etc/passwd", ".hidden", "nope.js",
     "vendor", "a//b.js", "..\\README.md", "x\x00.js", "vendor/README.md/"],
    ids=repr,
)  # fmt: skip
def test_nothing_outside_web_and_no_odd_paths_are_served(relative: str) -> None:
    assert resolve_static(WEB, relative) is None


def test_only_known_file_types_are_served(tmp_path: Path) -> None:
    (tmp_path / "secret.py").write_text("x = 1")
    (tmp_path / "ok.js").write_text("x")
    assert resolve_static(tmp_path, "secret.py") is None
    assert resolve_static(tmp_path, "ok.js") == (tmp_path / "ok.js").resolve()


# -- the channel ------------------------------------------------------------------------------


def test_channel_name_and_credentials(tmp_path: Path) -> None:
    assert WebChatInput.name() == "webchat"
    default = WebChatInput.from_credentials(None)
    assert default.store.path == Path("var/feedback.db")
    assert default.web_root == WEB
    custom = WebChatInput.from_credentials({"feedback_db": str(tmp_path / "f.db")})
    assert custom.store.path == tmp_path / "f.db"


def test_credentials_register_the_channels() -> None:
    credentials = yaml.safe_load((ROOT / "credentials.yml").read_text(encoding="utf-8"))
    assert credentials["tongban.channels.webchat.WebChatInput"] == {
        "feedback_db": "var/feedback.db"
    }
    socketio = credentials["tongban.channels.socketio.SocketIOInput"]
    assert socketio == {
        "user_message_evt": "user_uttered",
        "bot_message_evt": "bot_uttered",
        "session_persistence": True,
        "metadata_key": "metadata",
    }


def test_socketio_channel_joins_the_session_room_and_stays_on_polling() -> None:
    """The two fixes of Rasa's channel (tests/test_socketio.py tests the rest)."""
    channel = SocketIOInput.from_credentials({"session_persistence": True})
    assert channel.name() == "socketio"  # same routes and output channel name as Rasa's
    channel.blueprint(None)
    sio = channel.sio
    assert sio.eio.allow_upgrades is False
    calls = []

    async def enter_room(sid, room, namespace=None):
        calls.append(("enter_room", sid, room))

    async def emit(event, data, room=None, namespace=None):
        calls.append(("emit", event, data, room))

    sio.enter_room, sio.emit = enter_room, emit
    handler = sio.handlers["/"]["session_request"]
    asyncio.run(handler("sid1", {"session_id": SESSION}))
    assert calls == [
        ("enter_room", "sid1", SESSION),
        ("emit", "session_confirm", SESSION, "sid1"),
    ]
    calls.clear()
    asyncio.run(handler("sid2", {"session_id": {"not": "a string"}}))
    new_id = calls[0][2]
    assert re.fullmatch(r"[A-Za-z0-9_-]{32}", new_id)
    assert calls[1] == ("emit", "session_confirm", new_id, "sid2")


def test_blueprint_name_is_valid_for_sanic() -> None:
    blueprint = WebChatInput().blueprint(None)
    assert re.fullmatch(r"[A-Za-z0-9_]+", blueprint.name)


@pytest.fixture()
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # As sanic-testing does: lets Sanic's start-up optimisation run more than once per process.
    monkeypatch.setattr(Sanic, "test_mode", True)
    channel = WebChatInput(feedback_db=tmp_path / "var" / "feedback.db")
    app = Sanic(f"webchat_test_{uuid.uuid4().hex}")

    @app.middleware("response")
    async def allow_everyone(request, reply):
        # What Rasa's `--cors "*"` (sanic-cors) does to every response of the app.
        if request.headers.get("origin"):
            reply.headers["Access-Control-Allow-Origin"] = "*"
            reply.headers["Access-Control-Allow-Credentials"] = "true"

    # As Rasa registers channels: urljoin("/webhooks/", channel.url_prefix())
    app.blueprint(channel.blueprint(None), url_prefix="/webhooks/webchat")
    client = AsgiClient(app)

    def call(*args, headers=(), **kwargs):
        return asyncio.run(client.request(*args, headers=dict(headers), **kwargs))

    call.db = tmp_path / "var" / "feedback.db"
    return call


def test_page_is_served_with_a_strict_content_security_policy(client) -> None:
    status, headers, content = client("GET", "/webhooks/webchat/")
    assert status == 200
    assert headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    assert 'role="log"' in content.decode()


def test_page_without_trailing_slash_redirects(client) -> None:
    status, headers, _ = client("GET", "/webhooks/webchat", query="embed=1")
    assert status == 302
    assert headers["location"] == "/webhooks/webchat/?embed=1"


def test_widget_loader_is_served_as_javascript(client) -> None:
    status, headers, content = client("GET", "/webhooks/webchat/static/widget.js")
    assert status == 200
    assert headers["content-type"].startswith("text/javascript")
    assert b"attachShadow" in content


def test_missing_or_forbidden_static_file_is_404(client) -> None:
    assert client("GET", "/webhooks/webchat/static/nope.js")[0] == 404
    assert client("GET", "/webhooks/webchat/static/..%2F..%2Fcredentials.yml")[0] == 404


def test_feedback_round_trip_through_the_routes(client) -> None:
    assert not client.db.exists()
    status, _, content = client("GET", "/webhooks/webchat/feedback/summary")
    assert (status, json.loads(content)) == (200, {"up": 0, "down": 0, "total": 0})

    status, headers, content = client("POST", "/webhooks/webchat/feedback", body(rating="down"))
    assert (status, json.loads(content)) == (201, {"ok": True})
    assert headers["cache-control"] == "no-store"
    second = new_message_id(SESSION)
    reason = "很清楚，办件 SC2025110300342 也查到了"
    client("POST", "/webhooks/webchat/feedback", body(message_id=second, reason=reason))

    status, _, content = client("POST", "/webhooks/webchat/feedback", body(rating="x"))
    assert status == 400
    assert "rating" in json.loads(content)["error"]
    status, _, content = client(
        "POST", "/webhooks/webchat/feedback", body(session_id=OTHER_SESSION, rating="down")
    )
    assert status == 403
    assert json.loads(content)["ok"] is False

    status, _, content = client("GET", "/webhooks/webchat/feedback/summary")
    assert json.loads(content) == {"up": 1, "down": 1, "total": 2}
    with sqlite3.connect(client.db) as conn:
        rows = conn.execute(
            "SELECT session_id, message_id, rating, reason FROM feedback ORDER BY id"
        ).fetchall()
    assert rows == [
        (SESSION, MESSAGE, "down", None),
        (SESSION, second, "up", "很清楚，办件 SC2********0342 也查到了"),
    ]


def test_feedback_from_the_page_itself_is_accepted_and_gets_no_cors_headers(client) -> None:
    same_site = (("origin", "http://test"),)
    status, headers, _ = client("POST", "/webhooks/webchat/feedback", body(), headers=same_site)
    assert status == 201
    assert not [name for name in headers if name.startswith("access-control-")]


@pytest.mark.parametrize(
    "origin", ["http://evil.example", "http://test:8080", "http://test.evil.example", "null",
               "file://", "http://"]
)  # fmt: skip
def test_feedback_from_another_site_is_refused_without_cors_headers(client, origin) -> None:
    status, headers, content = client(
        "POST", "/webhooks/webchat/feedback", body(), headers=(("origin", origin),)
    )
    assert status == 403
    assert json.loads(content)["ok"] is False
    assert not [name for name in headers if name.startswith("access-control-")]
    status, headers, _ = client(
        "OPTIONS",
        "/webhooks/webchat/feedback",
        headers=(("origin", origin), ("access-control-request-method", "POST")),
    )
    assert not [name for name in headers if name.startswith("access-control-")]
    assert not client.db.exists() or sqlite3.connect(client.db).execute(
        "SELECT COUNT(*) FROM feedback"
    ).fetchone() == (0,)


def test_other_routes_are_left_to_the_app_cors_settings(client) -> None:
    _, headers, _ = client(
        "GET", "/webhooks/webchat/feedback/summary", headers=(("origin", "http://evil.example"),)
    )
    assert headers["access-control-allow-origin"] == "*"


@pytest.mark.parametrize("channel", [WebChatInput(), SocketIOInput()], ids=["webchat", "socketio"])
def test_channels_install_the_server_protections(channel) -> None:
    """tongban.channels.server.install: 64 KiB bodies, tracker failures fail one request."""
    blueprint = channel.blueprint(None)
    listeners = {(f.listener.__name__, f.event) for f in blueprint._future_listeners}
    assert ("cap_request_size", "before_server_start") in listeners
    assert ("tracker_failures_fail_requests", "after_server_start") in listeners


def test_feedback_route_only_accepts_post(client) -> None:
    assert client("GET", "/webhooks/webchat/feedback")[0] == 405


# -- the front end, read as text --------------------------------------------------------------


def test_front_end_never_parses_text_as_html() -> None:
    for path in WEB.glob("*.js"):
        source = path.read_text(encoding="utf-8")
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert sink not in source, f"{path.name} uses {sink}"


def test_vendored_socket_io_client_is_the_pinned_version() -> None:
    head = (WEB / "vendor" / "socket.io.min.js").read_text(encoding="utf-8")[:200]
    assert "Socket.IO v4.8.4" in head
    assert "4.8.4" in (WEB / "vendor" / "README.md").read_text(encoding="utf-8")
    assert "MIT" in (WEB / "vendor" / "LICENSE-socket.io-client.txt").read_text(encoding="utf-8")


def test_run_script_prints_the_page_urls() -> None:
    script = (ROOT / "tools" / "run.sh").read_text(encoding="utf-8")
    assert "网页聊天 / web chat: http://localhost:$RASA_PORT/webhooks/webchat/" in script
    assert "http://localhost:$RASA_PORT/webhooks/webchat/static/example-host.html" in script
