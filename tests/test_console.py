"""The hotline console's API without a browser: authentication, CSRF, lockout, roles, audit, limits.

Every route is called through Sanic's ASGI interface on a throwaway app with its own SQLite files,
a cheap scrypt cost and a clock the tests move; tests/browser/test_console_page.py drives the page.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sanic import Sanic

from tongban.assistant import Tongban
from tongban.cases.importer import import_file
from tongban.cases.limits import SQLiteFailureCounter
from tongban.cases.service import CaseService
from tongban.cases.store import SQLiteCaseStore
from tongban.channels.feedback import Feedback, FeedbackStore, new_message_id
from tongban.console.auth import LOGIN_ACCOUNT_CLIENT, LOGIN_CLIENT, Auth
from tongban.console.cases import AGENT_MINUTE
from tongban.console.channel import ConsoleInput
from tongban.console.passwords import Cost, hash_password
from tongban.console.ratings import (
    FIND_BATCH,
    PRUNE_EVERY,
    Answered,
    SQLiteAnswerLog,
    answer_log,
    answered_from_message,
    read_ratings,
)
from tongban.console.stores import ConsoleStores, Staff
from tongban.security.keys import Keys

pytestmark = pytest.mark.filterwarnings("ignore:You have set a listener:UserWarning")

ROOT = Path(__file__).resolve().parent.parent
CHEAP = Cost(n=2**4, r=8, p=1)
KEYS = Keys(b"console-test-secret")
PASSWORD = "correct horse 42"
SESSION = "S" * 32


@pytest.fixture(scope="module")
def tongban() -> Tongban:
    return Tongban.load(warm=True)


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


class Client:
    """Calls the app through ASGI and keeps cookies like a browser (path /console only)."""

    def __init__(self, app: Sanic, address: str = "127.0.0.1") -> None:
        self.app, self.address, self.cookies = app, address, {}
        self.csrf: str | None = None

    def request(self, method, path, body=None, headers=None, raw: bytes | None = None, query=""):
        return asyncio.run(self._request(method, path, body, headers or {}, raw, query))

    async def _request(self, method, path, body, headers, raw, query):
        if not getattr(self.app.ctx, "console_started", False):
            self.app.asgi = True
            await self.app._startup()
            self.app.ctx.console_started = True
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
        sent: list[dict] = []
        incoming = [{"type": "http.request", "body": data, "more_body": False}]

        async def receive():
            return incoming.pop(0) if incoming else {"type": "http.disconnect"}

        async def send(message):
            sent.append(message)

        all_headers = {"host": "test", "content-type": "application/json"} | headers
        all_headers["content-length"] = str(len(data))
        if self.cookies:
            all_headers["cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
            "scheme": "http", "path": path, "raw_path": path.encode(),
            "query_string": query.encode(), "root_path": "", "server": ("test", 80),
            "client": (self.address, 1),
            "headers": [(k.encode(), v.encode()) for k, v in all_headers.items()],
        }  # fmt: skip
        await self.app(scope, receive, send)
        start = sent[0]
        raw_headers = [(k.decode().lower(), v.decode()) for k, v in start["headers"]]
        for name, value in raw_headers:
            if name == "set-cookie":
                cookie_name, cookie_value = value.split(";")[0].split("=", 1)
                if "max-age=0" in value.lower() or not cookie_value:
                    self.cookies.pop(cookie_name, None)
                else:
                    self.cookies[cookie_name] = cookie_value
        content = b"".join(m.get("body", b"") for m in sent[1:])
        return Reply(start["status"], raw_headers, content)

    # -- helpers -------------------------------------------------------------------------

    def login(self, name: str, password: str = PASSWORD):
        token = self.request("GET", "/console/api/login-token").json()["token"]
        reply = self.request(
            "POST", "/console/api/login", {"name": name, "password": password},
            headers={"x-csrf-token": token},
        )  # fmt: skip
        if reply.status == 200:
            self.csrf = reply.json()["csrf"]
        return reply

    def post(self, path: str, body=None, **kwargs):
        headers = {"x-csrf-token": self.csrf or ""} | kwargs.pop("headers", {})
        return self.request("POST", path, body if body is not None else {}, headers, **kwargs)

    def get(self, path: str, query: str = ""):
        return self.request("GET", path, query=query)


class Reply:
    def __init__(self, status: int, headers: list[tuple[str, str]], content: bytes):
        self.status, self.headers, self.content = status, headers, content

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k == name), None)

    def cookies(self) -> list[str]:
        return [v for k, v in self.headers if k == "set-cookie"]

    def json(self):
        return json.loads(self.content)

    @property
    def text(self) -> str:
        return self.content.decode("utf-8")


@pytest.fixture()
def console(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tongban: Tongban):
    monkeypatch.setattr(Sanic, "test_mode", True)
    clock = Clock()
    stores = ConsoleStores.sqlite(tmp_path / "console.db")
    stores.staff.add(Staff("agent1", "agent", hash_password(PASSWORD, CHEAP)))
    stores.staff.add(Staff("agent2", "agent", hash_password(PASSWORD, CHEAP)))
    stores.staff.add(Staff("admin1", "admin", hash_password(PASSWORD, CHEAP)))
    auth = Auth(stores, KEYS, idle_seconds=1800, cost=CHEAP, clock=clock)
    case_store = SQLiteCaseStore(tmp_path / "cases.db", KEYS)
    import_file(ROOT / "demo" / "cases.yaml", case_store)
    cases = CaseService(case_store, SQLiteFailureCounter(tmp_path / "cases.db"), clock, KEYS)
    answers = SQLiteAnswerLog(tmp_path / "answers.db")
    channel = ConsoleInput(
        feedback_db=tmp_path / "feedback.db", stores=stores, auth=auth, tongban=tongban,
        cases=cases, answers=answers,
    )  # fmt: skip
    app = Sanic(f"console_test_{uuid.uuid4().hex}")

    @app.middleware("response")
    async def allow_everyone(request, reply):  # what Rasa's `--cors "*"` does to every response
        if request.headers.get("origin"):
            reply.headers["Access-Control-Allow-Origin"] = "*"

    app.blueprint(channel.blueprint(None), url_prefix="/console")
    channel.app, channel.clock, channel.tmp = app, clock, tmp_path  # for the tests below
    return channel


def client(console, address: str = "127.0.0.1") -> Client:
    return Client(console.app, address)


def signed_in(console, name: str = "agent1", address: str = "127.0.0.1") -> Client:
    c = client(console, address)
    assert c.login(name).status == 200
    return c


def audit_rows(console, **filters) -> list:
    from tongban.console.stores import AuditQuery

    return console.stores.audit.query(AuditQuery(**filters))


API = [
    ("GET", "/console/api/me"),
    ("POST", "/console/api/logout"),
    ("GET", "/console/api/search"),
    ("GET", "/console/api/places"),
    ("GET", "/console/api/card"),
    ("POST", "/console/api/cases/lookup"),
    ("POST", "/console/api/cases/history"),
    ("GET", "/console/api/ratings"),
    ("GET", "/console/api/ratings.csv"),
    ("GET", "/console/api/audit"),
    ("GET", "/console/api/audit.csv"),
]


# -- nothing without a login ------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), API)
def test_every_api_route_needs_a_session(console, method: str, path: str) -> None:
    reply = client(console).request(method, path, {} if method == "POST" else None)
    assert reply.status == 401
    assert reply.json()["login"] == "/console/login"


def test_the_page_redirects_to_login_and_the_login_page_is_served(console) -> None:
    anonymous = client(console)
    reply = anonymous.get("/console/")
    assert reply.status == 302 and reply.header("location") == "/console/login"
    assert anonymous.get("/console").status in (301, 302)
    page = anonymous.get("/console/login")
    assert page.status == 200 and "登录" in page.text
    assert "frame-ancestors 'none'" in page.header("content-security-policy")
    assert anonymous.get("/console/static/console.js").status == 200
    assert anonymous.get("/console/static/index.html").status == 404  # the page only via /console/
    assert anonymous.get("/console/static/../../README.md").status == 404


def test_a_forged_or_stale_cookie_is_no_session(console) -> None:
    c = client(console)
    c.cookies["tongban_console"] = "made-up-token"
    assert c.get("/console/api/me").status == 401
    c.cookies["tongban_console"] = "x" * 500
    assert c.get("/console/api/me").status == 401


def test_no_cors_headers_on_the_console(console) -> None:
    c = signed_in(console)
    reply = c.request("GET", "/console/api/me", headers={"origin": "https://other.example"})
    assert reply.status == 200
    assert not [name for name, _ in reply.headers if name.startswith("access-control-")]


# -- logging in -------------------------------------------------------------------------------


def test_login_sets_a_strict_httponly_cookie_and_the_page_opens(console) -> None:
    c = client(console)
    reply = c.login("agent1")
    assert reply.status == 200
    assert reply.json()["role"] == "agent"
    session_cookie = next(v for v in reply.cookies() if v.startswith("tongban_console="))
    lowered = session_cookie.lower()
    assert "httponly" in lowered and "samesite=strict" in lowered and "path=/console" in lowered
    assert c.get("/console/").status == 200
    me = c.get("/console/api/me").json()
    assert me["name"] == "agent1" and me["csrf"] == c.csrf
    keys = [entry["key"] for entry in me["nav"]]
    assert {"search", "cases", "ratings"} <= set(keys) and "audit" not in keys
    # The token in the cookie is not what the store keeps.
    token = c.cookies["tongban_console"]
    db = sqlite3.connect(console.tmp / "console.db")
    assert not db.execute("SELECT 1 FROM sessions WHERE key = ?", (token,)).fetchall()


def test_login_needs_the_pre_login_token_and_same_origin(console) -> None:
    c = client(console)
    body = {"name": "agent1", "password": PASSWORD}
    assert c.request("POST", "/console/api/login", body).status == 403
    token = c.request("GET", "/console/api/login-token").json()["token"]
    assert c.request("POST", "/console/api/login", body, {"x-csrf-token": "nope"}).status == 403
    cross = c.request(
        "POST", "/console/api/login", body,
        {"x-csrf-token": token, "origin": "https://evil.example"},
    )  # fmt: skip
    assert cross.status == 403
    assert c.request("POST", "/console/api/login", body, {"x-csrf-token": token}).status == 200


def test_wrong_password_and_unknown_account_fail_alike(console) -> None:
    wrong = client(console).login("agent1", "not the password")
    unknown = client(console).login("nobody", "not the password")
    assert wrong.status == unknown.status == 401
    assert wrong.json() == unknown.json()
    actions = [(e.agent, e.action) for e in audit_rows(console)]
    assert ("agent1", "login_failed") in actions and ("nobody", "login_failed") in actions


@pytest.mark.parametrize(
    "raw",
    [b"", b"not json", b"[]", json.dumps({"name": 1, "password": []}).encode()],
    ids=["empty", "not-json", "array", "wrong-types"],
)
def test_malformed_logins_are_4xx(console, raw: bytes) -> None:
    c = client(console)
    token = c.request("GET", "/console/api/login-token").json()["token"]
    reply = c.request("POST", "/console/api/login", headers={"x-csrf-token": token}, raw=raw)
    assert 400 <= reply.status < 500


def test_lockout_is_per_account_and_address_not_global(console) -> None:
    attacker = "10.0.0.66"
    for _ in range(LOGIN_ACCOUNT_CLIENT.failures):
        assert client(console, attacker).login("agent1", "guess guess").status == 401
    # Locked for this pair, even with the right password ...
    locked = client(console, attacker).login("agent1")
    assert locked.status == 429 and locked.json()["retry_minutes"] >= 1
    # ... but the agent still signs in from their own desk, and others from the same address.
    assert client(console, "10.0.0.7").login("agent1").status == 200
    assert client(console, attacker).login("agent2").status == 200
    assert audit_rows(console, action="login_locked")
    # The window passes.
    console.clock.now += LOGIN_ACCOUNT_CLIENT.seconds + 1
    assert client(console, attacker).login("agent1").status == 200


def test_spraying_many_accounts_locks_only_that_address(console) -> None:
    sprayer = "10.0.0.99"
    for i in range(LOGIN_CLIENT.failures):
        client(console, sprayer).login(f"user{i}", "guess guess")
    assert client(console, sprayer).login("agent1").status == 429
    assert client(console, "10.0.0.5").login("agent1").status == 200


# -- sessions ---------------------------------------------------------------------------------


def test_sessions_end_after_idle_time_and_on_logout(console) -> None:
    c = signed_in(console)
    console.clock.now += 1000
    assert c.get("/console/api/me").status == 200  # a request keeps it alive
    console.clock.now += 1000
    assert c.get("/console/api/me").status == 200
    console.clock.now += 1801
    assert c.get("/console/api/me").status == 401
    d = signed_in(console)
    stolen = d.cookies["tongban_console"]
    assert d.post("/console/api/logout").status == 200
    assert "tongban_console" not in d.cookies
    d.cookies["tongban_console"] = stolen
    assert d.get("/console/api/me").status == 401
    assert audit_rows(console, action="logout")


def test_sessions_have_a_maximum_lifetime(console) -> None:
    c = signed_in(console)
    for _ in range(30):  # active all day, but not past the 12-hour limit
        console.clock.now += 1500
        c.get("/console/api/me")
    assert c.get("/console/api/me").status == 401


# -- CSRF -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/console/api/logout", "/console/api/cases/lookup", "/console/api/cases/history"]
)
def test_state_changing_requests_need_the_csrf_token(console, path: str) -> None:
    c = signed_in(console)
    assert c.request("POST", path, {}).status == 403
    assert c.post(path, headers={"x-csrf-token": "wrong"}).status == 403
    cross = c.post(path, headers={"origin": "http://evil.example"})
    assert cross.status == 403
    allowed = c.post(path, {"case": "SC2025110300342", "last4": "0032"})
    assert "CSRF" not in allowed.json().get("error", "")  # history without a token is its own 403


# -- roles ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/console/api/audit", "/console/api/audit.csv", "/console/api/ratings.csv"]
)
def test_admin_routes_refuse_agents(console, path: str) -> None:
    assert signed_in(console, "agent1").get(path).status == 403
    assert signed_in(console, "admin1").get(path).status == 200


def test_admins_see_the_audit_section(console) -> None:
    nav = signed_in(console, "admin1").get("/console/api/me").json()["nav"]
    assert {"search", "cases", "ratings", "audit"} <= {entry["key"] for entry in nav}


# -- search, places, card ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "item"),
    [
        ("jhdj", "marriage_registration"),
        ("换驾照", "driving_licence_renewal"),
        ("结昏登记", "marriage_registration"),
        ("ydjyba", "medical_filing"),
        ("我户口在湖南，在东莞打工，想在这边领结婚证，要带啥", "marriage_registration"),
    ],
)
def test_search_finds_items(console, query: str, item: str) -> None:
    c = signed_in(console)
    from urllib.parse import quote

    data = c.get("/console/api/search", f"q={quote(query)}").json()
    assert data["results"][0]["item_id"] == item
    assert data["ms"] < 200  # the bench measures p95; a busy CI machine may stall one call


@pytest.mark.parametrize("query", ["", "%20", "%00", "x" * 300, "%F0%9F%98%80"])
def test_odd_searches_answer_without_error(console, query: str) -> None:
    reply = signed_in(console).get("/console/api/search", f"q={query}")
    assert reply.status == 200 and isinstance(reply.json()["results"], list)


def test_place_suggestions(console) -> None:
    results = signed_in(console).get("/console/api/places", "q=%E4%B8%9C%E8%8E%9E").json()
    assert [r["value"] for r in results["results"]] == ["广东省东莞市"]


def test_the_card_is_the_bots_replies_for_those_places_and_date(console, tongban) -> None:
    from urllib.parse import urlencode

    query = urlencode(
        {"item": "marriage_registration", "home": "湖南", "at": "东莞", "date": "2024-01-15"}
    )
    card = signed_in(console).get("/console/api/card", query).json()
    assert card["as_of"] == "2024-01-15" and card["home"] == "湖南省"
    bot = tongban.ask(
        "",
        home="湖南",
        at="东莞",
        as_of="2024-01-15",
        kind="documents",
        item="marriage_registration",
    )
    assert card["replies"]["documents"] == bot.to_dict()
    assert card["item"]["last_verified"]
    assert any(stage["current"] for stage in card["stages"])
    assert all(source["date"] for source in card["sources"])


@pytest.mark.parametrize(
    "query",
    [
        "item=nope",
        "item=marriage_registration&date=2024-13-45",
        "item=marriage_registration&home=%E7%81%AB%E6%98%9F",  # 火星
        "",
    ],
)
def test_card_refuses_bad_input_with_a_message(console, query: str) -> None:
    reply = signed_in(console).get("/console/api/card", query)
    assert reply.status == 400 and reply.json()["error"]


# -- cases ------------------------------------------------------------------------------------


def test_case_lookup_verifies_redacts_and_audits(console) -> None:
    c = signed_in(console)
    found = c.post("/console/api/cases/lookup", {"case": "sc 2025 1103 00342", "last4": "0032"})
    body = found.json()
    assert found.status == 200 and body["outcome"] == "found"
    assert "SC2025110300342" not in body["text"] and "王强" not in body["text"]
    assert "待补正" in body["text"]
    history = c.post("/console/api/cases/history", {"token": body["token"]})
    assert history.status == 200 and "办理记录" in history.json()["text"]
    entry = audit_rows(console, action="case_lookup")[0]
    assert entry.agent == "agent1" and entry.result == "found"
    assert "SC2025110300342" not in entry.case and entry.case.startswith("SC")
    assert audit_rows(console, action="case_history")[0].result == "ok"
    # Another agent cannot use the token.
    other = signed_in(console, "agent2")
    assert other.post("/console/api/cases/history", {"token": body["token"]}).status == 403


def test_a_wrong_last4_and_a_missing_case_answer_the_same(console) -> None:
    c = signed_in(console)
    wrong = c.post("/console/api/cases/lookup", {"case": "SC2025110300342", "last4": "1111"})
    missing = c.post("/console/api/cases/lookup", {"case": "SC2099010100001", "last4": "1111"})
    assert wrong.json() == missing.json()
    assert wrong.json()["outcome"] == "no_match"
    assert [e.result for e in audit_rows(console, action="case_lookup")] == ["no_match"] * 2


@pytest.mark.parametrize(
    "body", [{}, {"case": 5, "last4": None}, {"case": "SC2025110300342", "last4": "12"}]
)
def test_malformed_case_lookups_get_the_bots_message(console, body) -> None:
    reply = signed_in(console).post("/console/api/cases/lookup", body)
    assert reply.status == 200 and reply.json()["outcome"].startswith("invalid")


def test_agents_are_rate_limited(console) -> None:
    c = signed_in(console)
    for _ in range(AGENT_MINUTE.failures):
        c.post("/console/api/cases/lookup", {"case": "GD2026020100917", "last4": "123X"})
    limited = c.post("/console/api/cases/lookup", {"case": "GD2026020100917", "last4": "123X"})
    assert limited.status == 429 and limited.json()["outcome"] == "agent_rate_limited"
    assert audit_rows(console, result="agent_rate_limited")
    # Other agents are not limited by it; the minute passes.
    assert (
        signed_in(console, "agent2")
        .post("/console/api/cases/lookup", {"case": "GD2026020100917", "last4": "123X"})
        .json()["outcome"]
        == "found"
    )
    console.clock.now += 61
    assert (
        c.post("/console/api/cases/lookup", {"case": "GD2026020100917", "last4": "123X"}).json()[
            "outcome"
        ]
        == "found"
    )


def test_a_guessing_agent_locks_the_case_as_the_bot_does(console) -> None:
    agents = [signed_in(console, "agent1"), signed_in(console, "agent2")]
    for i in range(5):
        agents[i % 2].post(
            "/console/api/cases/lookup", {"case": "SC2025110300342", "last4": "1111"}
        )
        console.clock.now += 15
    locked = agents[0].post(
        "/console/api/cases/lookup", {"case": "SC2025110300342", "last4": "0032"}
    )
    assert locked.json()["outcome"] in ("case_locked", "locked")


# -- 好差评 ------------------------------------------------------------------------------------


def _rate(console, rating: str, reason: str | None, item: str | None, lead: str) -> None:
    message = new_message_id(SESSION)
    FeedbackStore(console.tmp / "feedback.db").save(Feedback(SESSION, message, rating, reason))
    if item:
        console.answers.note(Answered(SESSION, message, item, "documents", lead))


def test_ratings_are_grouped_by_item_and_answer(console) -> None:
    _rate(console, "down", "材料说得不清楚", "marriage_registration", "办理结婚登记需要带…")
    _rate(console, "down", None, "marriage_registration", "办理结婚登记需要带…")
    _rate(console, "up", None, "marriage_registration", "可以。结婚登记…")
    _rate(console, "up", None, None, "")
    data = signed_in(console).get("/console/api/ratings").json()
    assert data["up"] == 2 and data["down"] == 2
    first = data["items"][0]
    assert first["item"] == "marriage_registration" and first["down"] == 2
    assert first["answers"][0]["down"] == 2
    assert first["answers"][0]["reasons"][0]["reason"] == "材料说得不清楚"
    assert data["items"][1]["name"] == "（未关联事项）"


def test_ratings_export_is_csv_safe_for_spreadsheets(console) -> None:
    _rate(console, "down", '=HYPERLINK("http://x")', "marriage_registration", "lead")
    reply = signed_in(console, "admin1").get("/console/api/ratings.csv")
    assert reply.status == 200 and reply.header("content-type").startswith("text/csv")
    rows = list(csv.reader(io.StringIO(reply.text.lstrip("\ufeff"))))
    assert rows[0][0] == "时间" and rows[1][-1].startswith("'=")
    assert audit_rows(console, action="export")


def test_ratings_view_without_any_rating_yet(console) -> None:
    data = signed_in(console).get("/console/api/ratings").json()
    assert data["items"] == [] and data["up"] == data["down"] == 0


def test_a_sent_message_is_noted_with_its_item() -> None:
    message = {
        "message_id": "m1",
        "text": "plain",
        "tongban": {"reply": {"lead": "可以。", "meta": {"item": "x", "kind": "can"}}},
    }
    noted = answered_from_message(SESSION, message)
    assert (noted.item, noted.kind, noted.lead) == ("x", "can", "可以。")
    assert answered_from_message(SESSION, {"text": "no id"}) is None


def test_the_view_shows_ratings_whose_answer_was_not_noted(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "feedback.db")
    log = SQLiteAnswerLog(tmp_path / "answers.db")
    log.note(Answered(SESSION, "m1", "marriage_registration", "documents", "要带户口簿"))
    store.save(Feedback(SESSION, "m1", "down", "不全"))
    store.save(Feedback(SESSION, "m2", "up"))
    rows = {(r.rating, r.item, r.lead) for r in read_ratings(store, log)}
    assert rows == {
        ("down", "marriage_registration", "要带户口簿"),
        ("up", None, "（回答内容未记录）"),
    }


def test_answer_log_finds_many_answers_and_forgets_old_ones(tmp_path: Path) -> None:
    log = SQLiteAnswerLog(tmp_path / "answers.db")
    keys = [(SESSION, f"m{n}") for n in range(FIND_BATCH * 2 + 3)]  # more than one query's worth
    for _, message in keys:
        log.note(Answered(SESSION, message, "x", "can", f"回答{message}"))
    log.note(Answered(SESSION, "m0", "y", "where", "改过的回答"))  # the same message sent again
    found = log.find([*keys, ("other", "m0")])
    assert len(found) == len(keys) and found[(SESSION, "m7")].lead == "回答m7"
    assert found[(SESSION, "m0")] == Answered(SESSION, "m0", "y", "where", "改过的回答")
    with sqlite3.connect(log.path) as conn:
        conn.execute("UPDATE answers SET at = 0 WHERE message_id = 'm1'")  # noted long ago
    log._last_prune -= PRUNE_EVERY + 1  # an hour later
    log.note(Answered(SESSION, "new", None, None, "新的回答"))
    assert log.find([(SESSION, "m1")]) == {}
    assert (SESSION, "m2") in log.find([(SESSION, "m2")])


def test_answer_log_follows_the_feedback_backend(tmp_path: Path) -> None:
    from tongban.settings import Settings
    from tongban.stores.shared import BackendError

    path = str(tmp_path / "answers.db")
    assert answer_log(Settings.from_env({"TONGBAN_ANSWERS_DB": path})).path == Path(path)
    own = Settings.from_env({"TONGBAN_ANSWERS_DB": path, "TONGBAN_FEEDBACK_BACKEND": "my.Store"})
    assert isinstance(answer_log(own), SQLiteAnswerLog)  # a feedback class of one's own
    with pytest.raises(BackendError, match="unknown backend"):
        answer_log(Settings.from_env({"TONGBAN_FEEDBACK_BACKEND": "etcd"}))


# -- the audit log ----------------------------------------------------------------------------


def test_admin_filters_and_exports_the_audit_log(console) -> None:
    agent = signed_in(console, "agent1")
    agent.post("/console/api/cases/lookup", {"case": "SC2025110300342", "last4": "0032"})
    admin = signed_in(console, "admin1")
    entries = admin.get("/console/api/audit", "agent=agent1&action=case_lookup").json()["entries"]
    assert len(entries) == 1 and entries[0]["result"] == "found"
    assert admin.get("/console/api/audit", "from=2000-01-01&to=2000-01-02").json()["entries"] == []
    assert admin.get("/console/api/audit", "from=yesterday").status == 400
    exported = admin.get("/console/api/audit.csv", "action=case_lookup")
    rows = list(csv.reader(io.StringIO(exported.text.lstrip("\ufeff"))))
    assert rows[0] == ["时间", "坐席", "操作", "办件编号（打码）", "结果"]
    assert rows[1][1:] == ["agent1", "case_lookup", entries[0]["case"], "found"]
    assert "SC2025110300342" not in exported.text


# -- bad input --------------------------------------------------------------------------------


def test_bad_bodies_and_unknown_routes_are_4xx(console) -> None:
    c = signed_in(console)
    assert c.post("/console/api/cases/lookup", raw=b"{not json").status == 400
    assert c.post("/console/api/cases/lookup", raw=b"{}" + b" " * 10_000).status == 413
    assert c.get("/console/api/nothing-here").status == 404
    assert c.request("DELETE", "/console/api/me").status in (404, 405)


# -- the command line -------------------------------------------------------------------------


def _tongban(args: list[str], tmp_path: Path, stdin: str = "") -> subprocess.CompletedProcess:
    env = {"TONGBAN_CONSOLE_DB": str(tmp_path / "cli.db"), "TONGBAN_SECRET_KEY": "k" * 32}
    import os

    return subprocess.run(
        [sys.executable, "-c", "import sys; from tongban.cli import main; sys.exit(main())", *args], input=stdin, capture_output=True,
        text=True, env=os.environ | env, cwd=ROOT, timeout=120,
    )  # fmt: skip


def test_staff_add_from_stdin_and_its_refusals(tmp_path: Path) -> None:
    ok = _tongban(["staff", "add", "zhang.san", "--role", "admin", "--password-stdin"], tmp_path,
                  "a long enough pass\n")  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    again = _tongban(
        ["staff", "add", "zhang.san", "--password-stdin"], tmp_path, "another pass 1\n"
    )
    weak = _tongban(["staff", "add", "li", "--password-stdin"], tmp_path, "short\n")
    bad_name = _tongban(["staff", "add", "李四", "--password-stdin"], tmp_path, "long enough 12\n")
    bad_role = _tongban(["staff", "add", "li", "--role", "boss"], tmp_path)
    assert [r.returncode for r in (again, weak, bad_name, bad_role)] == [2, 2, 2, 2]
    assert all("Traceback" not in r.stderr for r in (again, weak, bad_name, bad_role))
    stores = ConsoleStores.sqlite(tmp_path / "cli.db")
    staff = stores.staff.get("zhang.san")
    assert staff.role == "admin" and staff.password_hash.startswith("scrypt$")
    assert "zhang.san\tadmin" in _tongban(["staff", "list"], tmp_path).stdout


def test_cli_answers_without_jieba_noise(tmp_path: Path) -> None:
    for args in (
        ["search", "换驾照"],
        ["ask", "换驾照要带什么"],
        ["item", "marriage_registration"],
    ):
        result = _tongban(args, tmp_path)
        assert result.returncode == 0
        assert "Building prefix dict" not in result.stderr + result.stdout
        assert "Loading model" not in result.stderr + result.stdout
        assert result.stdout.strip()


# -- no input makes a 5xx ---------------------------------------------------------------------


def test_no_input_makes_a_server_error(console) -> None:
    from urllib.parse import quote

    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    agent, admin = signed_in(console), signed_in(console, "admin1")

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.text(max_size=60), st.text(max_size=12))
    def check(text: str, other: str) -> None:
        q = quote(text.encode("utf-8", "surrogatepass"), safe="")
        for path, query in [
            ("/console/api/search", f"q={q}"),
            ("/console/api/places", f"q={q}"),
            ("/console/api/card", f"item=marriage_registration&home={q}&at={q}&date={q}"),
        ]:
            assert agent.get(path, query).status < 500
        assert admin.get("/console/api/audit", f"agent={q}&from={q}").status < 500
        body = {"case": text, "last4": other}
        assert agent.post("/console/api/cases/lookup", body).status < 500
        assert agent.post("/console/api/cases/history", {"token": text}).status < 500

    check()


# -- passwords and settings -------------------------------------------------------------------


def test_password_hashes_are_salted_scrypt_with_their_cost() -> None:
    from tongban.console.passwords import needs_rehash, verify_password

    one, two = hash_password(PASSWORD, CHEAP), hash_password(PASSWORD, CHEAP)
    assert one != two and one.startswith("scrypt$16$8$1$")
    assert verify_password(PASSWORD, one) and not verify_password("wrong", one)
    assert not verify_password(PASSWORD, "plain-text") and not verify_password(PASSWORD, "")
    assert needs_rehash(one) and not needs_rehash(one, CHEAP)


def test_a_login_upgrades_an_old_hash(console) -> None:
    console.stores.staff.add(Staff("old", "agent", hash_password(PASSWORD, Cost(n=2**3))))
    assert signed_in(console, "old")
    assert console.stores.staff.get("old").password_hash.startswith("scrypt$16$")


def test_console_settings_from_the_environment() -> None:
    from tongban.settings import Settings

    built = Settings.from_env(
        {"TONGBAN_SECRET_KEY": "x", "TONGBAN_CONSOLE_DB": "/tmp/c.db",
         "TONGBAN_CONSOLE_IDLE_MINUTES": "15", "TONGBAN_CONSOLE_SECURE_COOKIE": "true"}
    )  # fmt: skip
    assert (built.console_db, built.console_idle_minutes, built.console_secure_cookie) == (
        "/tmp/c.db", 15, True,
    )  # fmt: skip
    defaults = Settings.from_env({"TONGBAN_CONSOLE_IDLE_MINUTES": "soon"})
    assert defaults.console_idle_minutes == 30 and defaults.console_db == "var/console.db"
    assert defaults.answers_db == "var/answers.db" and not defaults.console_secure_cookie
