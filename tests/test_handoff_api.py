"""The console's conversations API (tongban/console/handoff.py) without a browser: sign-in
required, CSRF, roles, audit entries, the reveal limit, the whole take -> reply -> hand back flow
against Rasa's real tracker and lock stores, and the socket.io hooks.

The app holds the console's own channel too, so its catch-all /console/api/<path> is on the same
router as these routes.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from rasa.shared.core.events import UserUttered
from sanic import Sanic

from tests.test_console import CHEAP, KEYS, PASSWORD, Client
from tests.test_handoff import CLOSED_TIME, Clock, FakeAgent
from tongban.console.auth import Auth
from tongban.console.channel import ConsoleInput
from tongban.console.handoff import REVEALS_PER_HOUR, HandoffConsoleInput
from tongban.console.passwords import hash_password
from tongban.console.stores import AuditQuery, ConsoleStores, Staff
from tongban.handoff import channels as hooks
from tongban.handoff.hours import ServiceHours
from tongban.handoff.rasa import RasaControl
from tongban.handoff.service import Deliveries, HandoffService
from tongban.handoff.store import SQLiteHandoffStore

pytestmark = pytest.mark.filterwarnings("ignore:You have set a listener:UserWarning")

BASE = "/console/api/handoff"


class Setup:
    def __init__(self, tmp_path: Path, tongban: Any) -> None:
        self.clock = time.time  # the tracker stamps events with the real time too
        self.stores = ConsoleStores.sqlite(tmp_path / "console.db")
        for name, role in (("agent1", "agent"), ("agent2", "agent"), ("admin1", "admin")):
            self.stores.staff.add(Staff(name, role, hash_password(PASSWORD, CHEAP)))
        self.auth = Auth(self.stores, KEYS, idle_seconds=1800, cost=CHEAP)
        self.sent: list[tuple[str, dict[str, Any]]] = []
        deliveries = Deliveries()

        async def deliver(sender: str, message: dict[str, Any]) -> bool:
            self.sent.append((sender, message))
            return True

        deliveries.register("socketio", deliver)
        self.agent = FakeAgent()
        self.service = HandoffService(
            SQLiteHandoffStore(tmp_path / "handoff.db", clock=self.clock),
            ServiceHours.parse("always"),
            KEYS,
            deliveries,
            RasaControl(lambda: self.agent),
            clock=self.clock,
        )
        self.app = Sanic(f"handoff_test_{uuid.uuid4().hex}")
        console = ConsoleInput(
            feedback_db=tmp_path / "feedback.db", stores=self.stores, auth=self.auth,
            tongban=tongban, cases=object(),
        )  # fmt: skip
        self.app.blueprint(console.blueprint(None), url_prefix="/console")
        handoff = HandoffConsoleInput(auth=self.auth, service=self.service)
        self.app.blueprint(handoff.blueprint(None), url_prefix="/console")
        self.channel = handoff

    def client(self) -> Client:
        return Client(self.app)

    def signed_in(self, name: str = "agent1") -> Client:
        c = self.client()
        assert c.login(name).status == 200
        return c

    def audit(self, **filters) -> list:
        return self.stores.audit.query(AuditQuery(**filters))

    def citizen(self, sender: str, text: str = "转人工") -> int:
        async def said() -> None:
            tracker = await self.agent.tracker_store.get_or_create_tracker(sender)
            tracker.update(UserUttered(text))
            await self.agent.tracker_store.save(tracker)

        asyncio.run(said())
        return self.service.request(sender, "socketio").ticket

    def paused(self, sender: str) -> bool:
        return asyncio.run(self.agent.tracker_store.retrieve(sender)).is_paused()


class _NoKnowledge:
    """Enough of Tongban for the console channel to start: these tests never search, and do not
    depend on the knowledge base."""

    resolver = SimpleNamespace(warm_up=lambda: None)
    kb = SimpleNamespace(items={})


@pytest.fixture(scope="module")
def knowledge() -> Any:
    return _NoKnowledge()


@pytest.fixture()
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, knowledge: Any) -> Setup:
    monkeypatch.setattr(Sanic, "test_mode", True)
    return Setup(tmp_path, knowledge)


ROUTES = [
    ("GET", f"{BASE}/queue"),
    ("GET", f"{BASE}/conversations/1"),
    ("POST", f"{BASE}/conversations/1/take"),
    ("POST", f"{BASE}/conversations/1/reply"),
    ("POST", f"{BASE}/conversations/1/handback"),
    ("POST", f"{BASE}/conversations/1/close"),
    ("POST", f"{BASE}/callbacks/1/reveal"),
    ("POST", f"{BASE}/callbacks/1/done"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_every_route_needs_a_session(setup: Setup, method: str, path: str) -> None:
    reply = setup.client().request(method, path, {} if method == "POST" else None)
    assert reply.status == 401 and reply.json()["login"] == "/console/login"


@pytest.mark.parametrize(("method", "path"), [r for r in ROUTES if r[0] == "POST"])
def test_every_post_needs_the_csrf_token(setup: Setup, method: str, path: str) -> None:
    c = setup.signed_in()
    assert c.post(path, {}, headers={"x-csrf-token": "wrong"}).status == 403
    foreign = {"origin": "https://evil.example"}
    assert c.post(path, {}, headers=foreign).status == 403


def test_the_page_needs_a_session_and_has_the_console_headers(setup: Setup) -> None:
    anonymous = setup.client()
    reply = anonymous.get("/console/conversations/")
    assert reply.status == 302 and reply.header("location") == "/console/login"
    assert anonymous.get("/console/conversations").status in (301, 302)
    page = setup.signed_in().get("/console/conversations/")
    assert page.status == 200 and "会话" in page.text
    assert "frame-ancestors 'none'" in page.header("content-security-policy")
    assert anonymous.get("/console/static/handoff.js").status == 200
    nav = setup.signed_in().get("/console/api/me").json()["nav"]
    assert {"key": "conversations", "title": "会话", "href": "/console/conversations/"} in nav


def test_take_reply_hand_back_through_the_api(setup: Setup) -> None:
    ticket = setup.citizen("citizen-a", "查询办件 SC2025110300342 身份证后四位0032")
    agent = setup.signed_in("agent1")
    other = setup.signed_in("agent2")

    queue = agent.get(f"{BASE}/queue").json()
    assert [t["id"] for t in queue["queued"]] == [ticket] and queue["open"] is True
    assert "citizen-a" not in str(queue)

    assert agent.post(f"{BASE}/conversations/{ticket}/take").json()["state"] == "active"
    assert setup.paused("citizen-a")  # the bot is silent
    assert other.post(f"{BASE}/conversations/{ticket}/take").status == 409
    assert other.post(f"{BASE}/conversations/{ticket}/reply", {"text": "hi"}).status == 409

    body = {"text": "您好，我来帮您查", "client_id": "reply-000001"}
    sent = agent.post(f"{BASE}/conversations/{ticket}/reply", body).json()
    assert sent["ok"] and sent["delivered"]
    again = agent.post(f"{BASE}/conversations/{ticket}/reply", body).json()
    assert again["message_id"] == sent["message_id"]
    agent_messages = [m for _, m in setup.sent if m["handoff"]["event"] == "agent"]
    assert [m["text"] for m in agent_messages] == ["您好，我来帮您查"]  # once

    view = agent.get(f"{BASE}/conversations/{ticket}").json()
    shown = " ".join(line["text"] for line in view["lines"])
    assert "SC2025110300342" not in shown and "0032" not in shown
    assert [line["who"] for line in view["lines"]] == ["citizen", "system", "agent"]
    later = agent.get(f"{BASE}/conversations/{ticket}", query=f"after={view['lines'][-1]['at']}")
    assert later.json()["lines"] == []

    assert other.post(f"{BASE}/conversations/{ticket}/handback").status == 409
    assert agent.post(f"{BASE}/conversations/{ticket}/handback").json()["state"] == "returned"
    assert not setup.paused("citizen-a")
    actions = [entry.action for entry in setup.audit(agent="agent1")]
    assert {"handoff_take", "handoff_reply", "handoff_handback"} <= set(actions)


def test_close_with_a_note_and_bad_input_is_4xx(setup: Setup) -> None:
    ticket = setup.citizen("citizen-b")
    agent = setup.signed_in("agent1")
    path = f"{BASE}/conversations/{ticket}"
    assert agent.post(f"{path}/take").status == 200
    for bad in ({"text": 5}, {"text": ""}, {"text": "x" * 1001}, {"text": "ok", "client_id": "!"}):
        assert agent.post(f"{path}/reply", bad).status == 400
    assert agent.post(f"{path}/reply", raw=b"{not json").status == 400
    assert agent.post(f"{path}/reply", raw=b"[1]").status == 400
    assert agent.post(f"{path}/close", {"note": 7}).status == 400
    assert agent.get(path, query="after=soon").status == 400
    assert agent.get(f"{BASE}/conversations/999").status == 404
    assert agent.get(f"{BASE}/conversations/abc").status == 404
    closed = agent.post(f"{path}/close", {"note": "已电话联系，手机13800138000"}).json()
    assert closed["state"] == "closed"
    note = agent.get(path).json()["ticket"]["note"]
    assert "13800138000" not in note
    assert agent.post(f"{path}/close", {}).status == 409
    assert "handoff_close" in [e.action for e in setup.audit(agent="agent1")]


def test_callbacks_are_masked_revealed_with_an_audit_entry_and_limited(setup: Setup) -> None:
    setup.service.clock = Clock(CLOSED_TIME)
    callback = setup.service.leave_callback("citizen-c", "wechat", "13800138000")
    agent = setup.signed_in("agent1")
    listed = agent.get(f"{BASE}/queue").json()["callbacks"]
    assert listed == [
        {"id": callback.id, "channel": "微信公众号", "phone": "138****8000",
         "created": callback.created, "state": "open"}
    ]  # fmt: skip
    revealed = agent.post(f"{BASE}/callbacks/{callback.id}/reveal").json()
    assert revealed["phone"] == "13800138000"
    assert "callback_reveal" in [e.action for e in setup.audit(agent="agent1")]
    for _ in range(REVEALS_PER_HOUR - 1):
        assert agent.post(f"{BASE}/callbacks/{callback.id}/reveal").status == 200
    assert agent.post(f"{BASE}/callbacks/{callback.id}/reveal").status == 429
    assert setup.signed_in("admin1").post(f"{BASE}/callbacks/{callback.id}/reveal").status == 200
    assert agent.post(f"{BASE}/callbacks/999/reveal").status == 429  # still limited
    assert agent.post(f"{BASE}/callbacks/{callback.id}/done").json()["state"] == "done"
    assert agent.post(f"{BASE}/callbacks/{callback.id}/done").status == 409
    assert agent.get(f"{BASE}/queue").json()["callbacks"] == []


def test_a_broken_store_is_503_not_a_traceback(setup: Setup, monkeypatch) -> None:
    def broken():
        raise OSError("disk full")

    monkeypatch.setattr(setup.service, "queue", broken)
    reply = setup.signed_in().get(f"{BASE}/queue")
    assert reply.status == 503 and "稍后" in reply.json()["error"]


# -- the socket.io hooks ----------------------------------------------------------------------


class FakeSio:
    def __init__(self) -> None:
        self.emitted: list[tuple[str, dict, str]] = []

    async def emit(self, event: str, data: dict, room: str, namespace: str | None = None) -> None:
        self.emitted.append((event, data, room))


class FakeBlueprint:
    def listener(self, _event: str):
        return lambda handler: handler


def test_socketio_delivery_replay_and_silence(setup: Setup, monkeypatch) -> None:
    monkeypatch.setattr(hooks, "hub", lambda: setup.service)
    sio = FakeSio()
    hooks.register_socketio(FakeBlueprint(), sio, "bot_uttered", None)
    ticket = setup.citizen("S" * 32)
    assert not asyncio.run(hooks.held("S" * 32))
    asyncio.run(setup.service.take(ticket, "agent1"))
    asyncio.run(setup.service.reply(ticket, "agent1", "您好", None))
    assert asyncio.run(hooks.held("S" * 32))
    assert [(e, room) for e, _, room in sio.emitted] == [("bot_uttered", "S" * 32)] * 2
    live = [data["message_id"] for _, data, _ in sio.emitted]

    sio.emitted.clear()  # the widget reloads: session_confirm, then the replay to its socket
    asyncio.run(hooks.replay_socketio(sio, "bot_uttered", "sid-1", "S" * 32, None))
    assert [data["message_id"] for _, data, _ in sio.emitted] == live
    assert {room for _, _, room in sio.emitted} == {"sid-1"}


# -- the WeChat hook --------------------------------------------------------------------------


class FakeQuota:
    def __init__(self, left: int) -> None:
        self.left = left

    async def spend(self, openid: str) -> bool:
        self.left -= 1
        return self.left >= 0


class FakeCustomerService:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    async def send_text(self, openid: str, content: str) -> bool:
        self.sent.append((openid, content))
        return True


def test_wechat_delivery_uses_the_customer_service_api_within_the_quota(setup, monkeypatch):
    monkeypatch.setattr(hooks, "hub", lambda: setup.service)
    channel = SimpleNamespace(quota=FakeQuota(2), customer_service=FakeCustomerService())
    hooks.register_wechat(FakeBlueprint(), channel)
    ticket = setup.service.request("openid-1", "wechat").ticket
    asyncio.run(setup.service.take(ticket, "agent1"))  # "已接入" uses one message of the quota
    assert asyncio.run(setup.service.reply(ticket, "agent1", "您好", None))[1] is True
    assert [text for _, text in channel.customer_service.sent][-1] == "您好"
    assert {openid for openid, _ in channel.customer_service.sent} == {"openid-1"}
    # Over Tencent's quota: not sent, and the agent is told.
    assert asyncio.run(setup.service.reply(ticket, "agent1", "还在吗", None))[1] is False
    assert len(channel.customer_service.sent) == 2
