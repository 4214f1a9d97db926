"""Human handoff without servers: service hours, phone numbers, the SQLite store, the service
(queue, take, reply, hand back, close, callbacks) with a fake channel, the Rasa pause, the actions.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from rasa.core.lock_store import InMemoryLockStore
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import BotUttered, UserUttered
from rasa_sdk import Tracker
from rasa_sdk.events import FollowupAction
from rasa_sdk.executor import CollectingDispatcher

import actions.handoff as action_module
from tongban.handoff import texts
from tongban.handoff.hours import HoursError, ServiceHours
from tongban.handoff.phones import find_phone, mask_phone
from tongban.handoff.rasa import RasaControl
from tongban.handoff.service import ConversationControl, Deliveries, HandoffService, Line
from tongban.handoff.store import HandoffError, SQLiteHandoffStore
from tongban.security.keys import Keys

KEYS = Keys(b"handoff-test-secret")
SHANGHAI = dt.timezone(dt.timedelta(hours=8))
# Wednesday 2026-12-02 10:00 in Beijing, and 22:00 the same day.
OPEN_TIME = dt.datetime(2026, 12, 2, 10, 0, tzinfo=SHANGHAI).timestamp()
CLOSED_TIME = dt.datetime(2026, 12, 2, 22, 0, tzinfo=SHANGHAI).timestamp()


class Clock:
    def __init__(self, now: float = OPEN_TIME) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class FakeControl(ConversationControl):
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.fail = False

    async def pause(self, sender: str) -> None:
        if self.fail:
            raise RuntimeError("tracker store down")
        self.calls.append(("pause", sender))

    async def resume(self, sender: str) -> None:
        self.calls.append(("resume", sender))

    async def transcript(self, sender: str) -> list[Line]:
        return [Line("citizen", "转人工", 1.0), Line("bot", "已为您转接", 2.0)]


def make_service(tmp_path: Path, hours: str = "mon-fri 09:00-17:00", clock=None):
    clock = clock or Clock()
    store = SQLiteHandoffStore(tmp_path / "handoff.db", clock=clock)
    sent: list[tuple[str, dict[str, Any]]] = []
    deliveries = Deliveries()

    async def deliver(sender: str, message: dict[str, Any]) -> bool:
        sent.append((sender, message))
        return True

    deliveries.register("socketio", deliver)
    control = FakeControl()
    service = HandoffService(
        store, ServiceHours.parse(hours), KEYS, deliveries, control, clock=clock
    )
    return service, sent, control, clock


# -- service hours ----------------------------------------------------------------------------


def test_service_hours_are_read_in_the_configured_zone() -> None:
    hours = ServiceHours.parse("mon-fri 09:00-12:00,13:30-17:00; sat 09:00-12:00")
    at = lambda *a: dt.datetime(*a, tzinfo=SHANGHAI)  # noqa: E731
    assert hours.is_open(at(2026, 12, 2, 9, 0))  # Wednesday
    assert not hours.is_open(at(2026, 12, 2, 12, 30))
    assert hours.is_open(at(2026, 12, 2, 16, 59))
    assert not hours.is_open(at(2026, 12, 2, 17, 0))
    assert hours.is_open(at(2026, 12, 5, 11, 0))  # Saturday morning
    assert not hours.is_open(at(2026, 12, 6, 11, 0))  # Sunday
    # 02:00 UTC is 10:00 in Beijing.
    assert hours.is_open(dt.datetime(2026, 12, 2, 2, 0, tzinfo=dt.UTC))
    assert "周一至周五" in hours.describe()
    assert ServiceHours.parse("always").is_open(at(2026, 12, 6, 3, 0))
    assert not ServiceHours.parse("never").is_open(at(2026, 12, 2, 10, 0))


@pytest.mark.parametrize("spec", ["mon-fri", "xyz 09:00-10:00", "mon 10:00-09:00", "mon 9-17"])
def test_unreadable_service_hours_say_what_to_write(spec: str) -> None:
    with pytest.raises(HoursError, match="TONGBAN_HANDOFF_HOURS"):
        ServiceHours.parse(spec)
    with pytest.raises(HoursError, match="TIMEZONE"):
        ServiceHours.parse("always", "Mars/Base")


# -- phone numbers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "phone"),
    [
        ("13800138000", "13800138000"),
        ("我的电话是 138 0013 8000，谢谢", "13800138000"),
        ("+86 13912345678", "13912345678"),
        ("１３８００１３８０００", "13800138000"),
        ("座机0755-83123456", "075583123456"),
        ("010-12345678", "01012345678"),
        ("1380013800", None),
        ("不用了", None),
        ("", None),
    ],
)
def test_phone_numbers_are_found_in_free_text(text: str, phone: str | None) -> None:
    assert find_phone(text) == phone


def test_phone_numbers_are_masked_for_agents() -> None:
    assert mask_phone("13800138000") == "138****8000"
    assert mask_phone("075583123456") == "0755****3456"
    assert mask_phone("01012345678") == "010****5678"


# -- the queue --------------------------------------------------------------------------------


def test_in_service_hours_a_request_joins_the_queue_and_is_told_its_place(tmp_path) -> None:
    service, _, _, _ = make_service(tmp_path)
    first = service.request("citizen-a", "socketio")
    second = service.request("citizen-b", "wechat")
    assert (first.kind, first.position) == ("queued", 0)
    assert (second.kind, second.position) == ("queued", 1)
    assert "您是下一位" in first.text and "您前面还有 1 位" in second.text
    again = service.request("citizen-b", "wechat")  # asking twice keeps one place
    assert again.ticket == second.ticket and again.position == 1
    view = service.queue()
    assert [t["position"] for t in view["queued"]] == [0, 1]
    assert [t["channel"] for t in view["queued"]] == ["网页聊天", "微信公众号"]
    assert "sender" not in view["queued"][0]  # the session id is a bearer secret


def test_outside_service_hours_the_citizen_gets_12345_and_a_callback_offer(tmp_path) -> None:
    service, _, _, _ = make_service(tmp_path, clock=Clock(CLOSED_TIME))
    offer = service.request("citizen-a", "socketio")
    assert offer.kind == "callback" and "12345" in offer.text and "周一至周五" in offer.text
    assert service.queue()["queued"] == []


def test_a_callback_number_is_never_stored_readable(tmp_path) -> None:
    service, _, _, _ = make_service(tmp_path, clock=Clock(CLOSED_TIME))
    sealed = service.seal_phone_slot("citizen-a", "电话 13800138000")
    assert sealed and "13800138000" not in sealed
    assert service.phone_of_slot("citizen-b", sealed) is None  # bound to the sender
    phone = service.phone_of_slot("citizen-a", sealed)
    callback = service.leave_callback("citizen-a", "socketio", phone)
    assert callback.masked == "138****8000"
    assert service.queue()["callbacks"][0]["phone"] == "138****8000"
    raw = (tmp_path / "handoff.db").read_bytes()
    assert b"13800138000" not in raw and b"citizen-a" not in raw
    assert service.reveal_callback(callback.id) == "13800138000"
    service.finish_callback(callback.id, "agent1")
    assert service.queue()["callbacks"] == []
    with pytest.raises(HandoffError):
        service.finish_callback(callback.id, "agent1")
    with pytest.raises(HandoffError):
        service.reveal_callback(999)


# -- an agent takes the conversation ----------------------------------------------------------


def test_take_reply_hand_back(tmp_path) -> None:
    service, sent, control, _ = make_service(tmp_path)
    ticket = service.request("citizen-a", "socketio").ticket
    assert not service.holding("citizen-a")  # queued: the bot still answers

    asyncio.run(service.take(ticket, "agent1"))
    assert control.calls == [("pause", "citizen-a")]
    assert service.holding("citizen-a")
    assert sent[-1][1]["handoff"] == {"event": "status", "state": "active", "seq": 1}
    assert "已接入" in sent[-1][1]["text"]
    with pytest.raises(HandoffError):  # someone else was first
        asyncio.run(service.take(ticket, "agent2"))
    with pytest.raises(HandoffError):
        asyncio.run(service.reply(ticket, "agent2", "你好", None))

    message, delivered = asyncio.run(
        service.reply(ticket, "agent1", "您好，办件 SC2025110300342 正在审核", "client-0001")
    )
    assert delivered
    to, out = sent[-1]
    assert to == "citizen-a" and out["handoff"]["event"] == "agent"
    assert out["text"] == "您好，办件 SC2025110300342 正在审核"  # as the agent wrote it
    assert out["message_id"] == message.message_id
    # A repeat (the agent's page re-sent after a timeout) is not delivered twice.
    count = len(sent)
    repeat, _ = asyncio.run(service.reply(ticket, "agent1", "您好，办件 …", "client-0001"))
    assert repeat.message_id == message.message_id and len(sent) == count

    view = asyncio.run(service.conversation(ticket))
    texts_shown = [line["text"] for line in view["lines"]]
    assert "SC2025110300342" not in " ".join(texts_shown)  # masked for the transcript
    assert any("SC2********0342" in text for text in texts_shown)
    assert [line["who"] for line in view["lines"]][:2] == ["citizen", "bot"]

    asyncio.run(service.end(ticket, "agent1", close=False))
    assert control.calls[-1] == ("resume", "citizen-a")
    assert not service.holding("citizen-a")
    assert sent[-1][1]["text"] == texts.HANDED_BACK
    with pytest.raises(HandoffError):
        asyncio.run(service.reply(ticket, "agent1", "还在吗", None))
    # Everything the citizen was sent comes again, in order, for a reloaded widget.
    replayed = service.replay("citizen-a")
    assert [m["message_id"] for m in replayed] == [m["message_id"] for _, m in sent]
    raw = (tmp_path / "handoff.db").read_bytes()
    assert b"SC2025110300342" not in raw


def test_waiting_citizens_are_told_when_the_queue_moves(tmp_path) -> None:
    service, sent, _, _ = make_service(tmp_path)
    first = service.request("citizen-a", "socketio").ticket
    service.request("citizen-b", "socketio")
    service.request("citizen-c", "socketio")
    asyncio.run(service.take(first, "agent1"))
    updates = [(to, m["handoff"]) for to, m in sent if "text" not in m]
    assert updates == [
        ("citizen-b", {"event": "queued", "position": 0}),
        ("citizen-c", {"event": "queued", "position": 1}),
    ]


def test_close_with_a_note_and_a_new_request_opens_a_new_ticket(tmp_path) -> None:
    service, sent, _, _ = make_service(tmp_path)
    ticket = service.request("citizen-a", "socketio").ticket
    asyncio.run(service.take(ticket, "agent1"))
    ended = asyncio.run(service.end(ticket, "agent1", close=True, note="已解答，身份证后四位0032"))
    assert ended.state == "closed" and ended.note == "已解答，身份证后四位****"
    assert sent[-1][1]["text"] == texts.CLOSED
    with pytest.raises(HandoffError):
        asyncio.run(service.end(ticket, "agent1", close=True))
    assert service.request("citizen-a", "socketio").ticket != ticket


def test_a_queued_conversation_can_be_closed_and_a_failed_pause_undoes_the_take(tmp_path) -> None:
    service, _, control, _ = make_service(tmp_path)
    ticket = service.request("citizen-a", "socketio").ticket
    control.fail = True
    with pytest.raises(HandoffError) as failed:
        asyncio.run(service.take(ticket, "agent1"))
    assert failed.value.status == 503 and not service.holding("citizen-a")
    other = service.request("citizen-b", "socketio").ticket
    assert asyncio.run(service.end(other, "agent1", close=True)).state == "closed"


def test_bad_agent_input(tmp_path) -> None:
    service, _, _, _ = make_service(tmp_path)
    ticket = service.request("citizen-a", "socketio").ticket
    asyncio.run(service.take(ticket, "agent1"))
    for text, status in (("   ", 400), ("长" * 1001, 400)):
        with pytest.raises(HandoffError) as bad:
            asyncio.run(service.reply(ticket, "agent1", text, None))
        assert bad.value.status == status
    with pytest.raises(HandoffError) as missing:
        asyncio.run(service.take(4242, "agent1"))
    assert missing.value.status == 404


def test_a_channel_that_fails_is_reported_not_raised(tmp_path) -> None:
    service, _, _, _ = make_service(tmp_path)

    async def broken(sender: str, message: dict[str, Any]) -> bool:
        raise ConnectionError("down")

    service.deliveries.register("wechat", broken)
    ticket = service.request("openid-1", "wechat").ticket
    asyncio.run(service.take(ticket, "agent1"))
    message, delivered = asyncio.run(service.reply(ticket, "agent1", "您好", None))
    assert not delivered and not message.delivered
    unknown = service.request("rest-user", "rest").ticket
    asyncio.run(service.take(unknown, "agent2"))
    assert asyncio.run(service.reply(unknown, "agent2", "您好", None))[1] is False


def test_two_processes_share_the_store(tmp_path) -> None:
    """The action server queues, the Rasa server takes: two connections to one file."""
    clock = Clock()
    one = SQLiteHandoffStore(tmp_path / "h.db", clock=clock)
    two = SQLiteHandoffStore(tmp_path / "h.db", clock=clock)
    ticket, made = one.enqueue("s1", "socketio")
    assert made and two.open_ticket("s1") == ticket
    assert two.take(ticket.id, "agent1").state == "active"
    assert one.open_ticket("s1").state == "active"
    mode = sqlite3.connect(tmp_path / "h.db").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


# -- Rasa's pause -----------------------------------------------------------------------------


class FakeAgent:
    def __init__(self) -> None:
        self.tracker_store = InMemoryTrackerStore(Domain.empty())
        self.lock_store = InMemoryLockStore()


def test_the_bot_is_paused_and_resumed_in_its_tracker_and_the_transcript_is_masked() -> None:
    agent = FakeAgent()
    control = RasaControl(lambda: agent)

    async def scenario() -> None:
        tracker = await agent.tracker_store.get_or_create_tracker("s1")
        tracker.update(UserUttered("/greet"))
        tracker.update(UserUttered("查询办件 SC2025110300342 身份证后四位0032"))
        tracker.update(BotUttered("您好"))
        await agent.tracker_store.save(tracker)
        await control.pause("s1")
        assert (await agent.tracker_store.retrieve("s1")).is_paused()
        lines = await control.transcript("s1")
        assert [line.who for line in lines] == ["citizen", "bot"]
        assert "SC2025110300342" not in lines[0].text and "0032" not in lines[0].text
        await control.resume("s1")
        assert not (await agent.tracker_store.retrieve("s1")).is_paused()
        assert await control.transcript("nobody") == []

    asyncio.run(scenario())
    with pytest.raises(RuntimeError):
        asyncio.run(RasaControl(lambda: None).pause("s1"))


# -- the actions ------------------------------------------------------------------------------


def tracker(text: str, intent: str, slots: dict | None = None, channel: str = "socketio"):
    return Tracker(
        "citizen-a",
        slots or {},
        {"text": text, "intent": {"name": intent}},
        [{"event": "user", "text": text, "input_channel": channel}],
        False,
        None,
        {},
        "action_listen",
    )


@pytest.fixture()
def patched(tmp_path, monkeypatch):
    holder: dict[str, HandoffService] = {}

    def use(clock: Clock) -> HandoffService:
        service, _, _, _ = make_service(tmp_path, clock=clock)
        holder["service"] = service
        monkeypatch.setattr(action_module, "hub", lambda: holder["service"])
        return service

    return use


def run_action(action, tracker_: Tracker) -> tuple[list, list]:
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, tracker_, {}))
    return events, dispatcher.messages


def test_action_handoff_queues_in_service_hours(patched) -> None:
    service = patched(Clock(OPEN_TIME))
    events, messages = run_action(action_module.ActionHandoff(), tracker("转人工", "human_handoff"))
    assert events == []
    assert "排队" in messages[0]["text"]
    assert messages[0]["custom"] == {"handoff": {"event": "queued", "position": 0}}
    assert service.store.open_ticket("citizen-a").channel == "socketio"


def test_action_handoff_offers_a_callback_outside_hours_and_records_it(patched) -> None:
    service = patched(Clock(CLOSED_TIME))
    events, messages = run_action(action_module.ActionHandoff(), tracker("转人工", "human_handoff"))
    assert FollowupAction("callback_form") in events
    assert "12345" in messages[0]["text"]

    form = action_module.ValidateCallbackForm()
    asked = {"requested_slot": "callback_phone"}
    dispatcher = CollectingDispatcher()
    found = asyncio.run(
        form.extract_callback_phone(dispatcher, tracker("13800138000", "nlu_fallback", asked), {})
    )
    sealed = found["callback_phone"]
    assert sealed and "13800138000" not in sealed
    kept = form.validate_callback_phone(sealed, dispatcher, tracker("x", "x", asked), {})
    assert kept == {"callback_phone": sealed}
    bad = form.validate_callback_phone("", dispatcher, tracker("x", "x", asked), {})
    assert bad == {"callback_phone": None} and dispatcher.messages[-1]["text"] == texts.BAD_PHONE
    leaving = asyncio.run(
        form.extract_callback_phone(dispatcher, tracker("不用了", "deny", asked), {})
    )
    assert leaving == {}

    events, messages = run_action(
        action_module.ActionCallbackRequest(),
        tracker("13800138000", "nlu_fallback", {"callback_phone": sealed}),
    )
    assert "138****8000" in messages[0]["text"]
    assert service.queue()["callbacks"][0]["phone"] == "138****8000"
    events, messages = run_action(
        action_module.ActionCallbackRequest(), tracker("x", "x", {"callback_phone": "forged"})
    )
    assert "12345" in messages[0]["text"]


def test_action_handoff_never_leaves_a_dead_end(monkeypatch) -> None:
    def broken():
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(action_module, "hub", broken)
    events, messages = run_action(action_module.ActionHandoff(), tracker("转人工", "human_handoff"))
    assert events == [] and "12345" in messages[0]["text"]
