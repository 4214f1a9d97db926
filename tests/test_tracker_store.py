"""The tracker store keeps no personal data in plain text, and a database error fails one request."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from rasa.core.tracker_store import FailSafeTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActiveLoop, BotUttered, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from tongban.channels import server
from tongban.security.conversation import redacted
from tongban.security.keys import Keys
from tongban.stores.tracker import RedactingSQLTrackerStore, TrackerStoreError

ROOT = Path(__file__).resolve().parent.parent
SECRETS = ("SC2025110300342", "0032", "13812345678", "GD2026020100917", "5566", "123X")


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(ROOT / "domain.yml")


@pytest.fixture()
def store(tmp_path: Path, domain: Domain) -> RedactingSQLTrackerStore:
    return RedactingSQLTrackerStore(domain, dialect="sqlite", db=str(tmp_path / "tracker.db"))


def user(text: str, entities: list | None = None) -> UserUttered:
    return UserUttered(text, {"name": "case_status"}, entities or [])


def form_conversation(sender: str = "s1") -> DialogueStateTracker:
    """A one-message lookup, then the two-turn form, then a phone number in passing."""
    events = [
        SessionStarted(),
        user(
            "查询办件 SC2025110300342 身份证后四位0032",
            [{"entity": "case_number", "value": "SC2025110300342", "start": 5, "end": 20}],
        ),
        BotUttered("办件编号 SC2********0342（申请人 王*）"),
        user("帮我查一下办件进度"),
        ActiveLoop("case_status_form"),
        SlotSet("requested_slot", "case_number"),
        user("gd 2026 0201 00917"),
        SlotSet("case_number", "GD2026020100917"),
        SlotSet("requested_slot", "verification"),
        user("5566"),
        SlotSet("verification", "5566"),
        SlotSet("requested_slot", None),
        ActiveLoop(None),
        user("我的手机是13812345678，后四位123x"),
        user("宜昌能领结婚证吗，按2022-03-25的政策"),
    ]
    return DialogueStateTracker.from_events(sender, events)


def raw_rows(path: Path) -> str:
    with sqlite3.connect(path) as db:
        return "\n".join(row[0] for row in db.execute("SELECT data FROM events"))


def test_no_case_number_last4_or_phone_is_stored_in_plain_text(store, tmp_path) -> None:
    asyncio.run(store.save(form_conversation()))
    raw = raw_rows(tmp_path / "tracker.db").upper()
    for secret in SECRETS:
        assert secret not in raw, secret
    # what carries no personal data is kept as it was
    tracker = asyncio.run(store.retrieve("s1"))
    texts = [e.text for e in tracker.events if isinstance(e, UserUttered)]
    assert texts[1] == "帮我查一下办件进度"
    assert texts[-1] == "宜昌能领结婚证吗，按2022-03-25的政策"
    assert texts[0] == "查询办件 SC2********0342 身份证后四位****"
    assert texts[2] == "** **** **** *****"


def test_saving_twice_stores_each_event_once_and_redacts_the_new_ones(store, tmp_path) -> None:
    tracker = form_conversation()
    asyncio.run(store.save(tracker))
    tracker.update(UserUttered("再查 SC2025110300342", {"name": "case_status"}))
    asyncio.run(store.save(tracker))
    with sqlite3.connect(tmp_path / "tracker.db") as db:
        count = db.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    assert count == len(tracker.events)
    assert "SC2025110300342" not in raw_rows(tmp_path / "tracker.db")


def test_sealed_slot_values_are_kept_so_the_form_still_works() -> None:
    sealed = Keys(b"test-secret").seal("case_form", {"value": "SC2025110300342"})
    events = [{"event": "slot", "name": "case_number", "value": sealed}]
    assert next(redacted(events))["value"] == sealed


def test_a_lone_surrogate_fails_the_save_without_ending_the_process(store) -> None:
    # The reproduction: a lone surrogate as sender id (the channels refuse it before this).
    tracker = DialogueStateTracker.from_events("\ud800", [SessionStarted(), user("hi")])
    with pytest.raises(TrackerStoreError):
        asyncio.run(store.save(tracker))
    # the store keeps working for everyone else
    asyncio.run(store.save(form_conversation("s3")))
    assert asyncio.run(store.retrieve("s3")) is not None


def test_rasa_fail_safe_wrapper_passes_the_failure_to_the_channel(store) -> None:
    wrapped = FailSafeTrackerStore(store)
    agent = type("Agent", (), {"tracker_store": wrapped})()
    app = type("App", (), {"ctx": type("Ctx", (), {"agent": agent})()})()
    server._fail_requests_not_process(app)
    tracker = DialogueStateTracker.from_events("\udfff", [SessionStarted(), user("hi")])
    with pytest.raises(server.ConversationUnavailable):
        asyncio.run(wrapped.save(tracker))


def test_a_database_that_is_gone_fails_the_request(tmp_path, domain) -> None:
    store = RedactingSQLTrackerStore(domain, dialect="sqlite", db=str(tmp_path / "t.db"))
    store.engine.dispose()
    (tmp_path / "t.db").unlink()
    (tmp_path / "t.db").mkdir()  # a folder where the database was: every write fails
    with pytest.raises(TrackerStoreError):
        asyncio.run(store.save(form_conversation("s5")))
