"""Limits on failed case verifications (tongban/cases/limits.py): guessing is bounded however
many sender ids an attacker makes up, and honest citizens are not locked out by it."""

from __future__ import annotations

import logging
from collections import defaultdict

import pytest

from tests.test_cases import KEYS, Clock, make_service
from tongban.cases import CaseService, Outcome, SQLiteFailureCounter, limits, replies
from tongban.cases.limits import CASE_DAILY, CASE_HOURLY, CLIENT_HOURLY, SENDER_HOURLY

TARGET, TARGET_LAST4 = "SC2025110300342", {"0032", "7788"}
OTHER, OTHER_LAST4 = "GD2026020100917", "5566"
ATTACKER_CLIENTS = [f"{i:032x}" for i in range(1, 5)]  # a few addresses, as channel hashes
HONEST_CLIENT = "f" * 32


def test_the_documented_numbers():
    assert (CASE_HOURLY.failures, CASE_HOURLY.seconds) == (5, 3600)
    assert (CASE_DAILY.failures, CASE_DAILY.seconds) == (10, 86400)
    assert (SENDER_HOURLY.failures, SENDER_HOURLY.seconds) == (5, 3600)
    assert (CLIENT_HOURLY.failures, CLIENT_HOURLY.seconds) == (20, 3600)
    assert (limits.ALARM.failures, limits.ALARM.seconds) == (200, 600)


@pytest.fixture()
def clock() -> Clock:
    return Clock()


@pytest.fixture()
def service(tmp_path, clock) -> CaseService:
    return make_service(tmp_path / "cases.db", clock)


def wrong_guesses():
    """Every last 4 an attacker might try, except the right ones."""
    return (f"{n:04d}" for n in range(10000) if f"{n:04d}" not in TARGET_LAST4)


def test_1000_sender_ids_get_5_guesses_an_hour_and_10_a_day_at_one_case(service, clock):
    guesses = wrong_guesses()
    senders = [f"bot-{i}" for i in range(1000)]
    reached: list[float] = []  # when a guess was actually checked against the case

    def attack(sender_index: int) -> Outcome:
        sender = senders[sender_index % len(senders)]
        client = ATTACKER_CLIENTS[sender_index % len(ATTACKER_CLIENTS)]
        outcome = service.lookup(sender, TARGET, next(guesses), client=client).outcome
        assert outcome in (Outcome.NO_MATCH, Outcome.CASE_LOCKED)
        if outcome is Outcome.NO_MATCH:
            reached.append(clock.now)
        return outcome

    start = clock.now
    outcomes = [attack(i) for i in range(1000)]
    assert outcomes.count(Outcome.NO_MATCH) == CASE_HOURLY.failures == 5

    # During the attack a citizen with another case is served at once ...
    assert service.lookup("citizen", OTHER, OTHER_LAST4, client=HONEST_CLIENT).record
    # ... but the targeted case's own applicant is refused too and sent to 12345 or to wait:
    # the trade-off of a per-case limit (the alternative, a per-sender limit, stops nobody).
    owner = service.lookup("owner", TARGET, "0032", client=HONEST_CLIENT)
    assert owner.outcome is Outcome.CASE_LOCKED and owner.retry_minutes == 61
    text = replies.outcome_text(owner)
    assert "这个办件编号的验证失败次数过多" in text and "61 分钟后再试" in text
    assert "12345" in text

    # Three more hours, ten new attempts a minute.
    index = 1000
    for _ in range(180):
        clock.now += 60
        for _ in range(10):
            attack(index)
            index += 1
    # In any hour at most 5 guesses, in the day at most 10: here 5 at the start, 5 an hour
    # later (61 minutes: the window includes its first second), then none.
    assert len(reached) == CASE_DAILY.failures == 10
    assert reached == [start] * 5 + [start + 61 * 60] * 5
    for t in reached:
        assert sum(t <= u < t + 3600 for u in reached) <= CASE_HOURLY.failures
    daily = service.lookup("owner", TARGET, "0032")
    assert daily.outcome is Outcome.CASE_LOCKED and "小时后再试" in replies.outcome_text(daily)
    assert service.lookup("citizen", OTHER, OTHER_LAST4, client=HONEST_CLIENT).record
    clock.now = start + 86400 + 61 * 60
    assert service.lookup("owner", TARGET, "0032").outcome is Outcome.FOUND


def test_guessing_many_case_numbers_is_bounded_by_the_client_addresses(service, clock):
    outcomes = defaultdict(int)
    for i in range(1000):
        client = ATTACKER_CLIENTS[i % len(ATTACKER_CLIENTS)]
        result = service.lookup(f"bot-{i}", f"ZZ2099{i:09d}", "0000", client=client)
        outcomes[result.outcome] += 1
    # 20 failures per address an hour: 80 guesses from four addresses, whatever the senders.
    assert outcomes == {
        Outcome.NO_MATCH: len(ATTACKER_CLIENTS) * CLIENT_HOURLY.failures,
        Outcome.LOCKED: 1000 - 80,
    }
    assert service.lookup("citizen", TARGET, "0032", client=HONEST_CLIENT).record
    # A citizen behind one of those addresses (shared NAT) waits, or calls 12345.
    shared = service.lookup("neighbour", TARGET, "0032", client=ATTACKER_CLIENTS[0])
    assert shared.outcome is Outcome.LOCKED and "12345" in replies.outcome_text(shared)


def test_per_client_limit_and_its_expiry(service, clock):
    client = "a" * 32
    for i in range(CLIENT_HOURLY.failures):
        assert service.lookup(f"s{i}", f"ZZ2099{i:09d}", "0000", client=client).outcome is (
            Outcome.NO_MATCH
        )
    locked = service.lookup("fresh-sender", TARGET, "0032", client=client)
    assert locked.outcome is Outcome.LOCKED and locked.retry_minutes == 61
    assert service.lookup("fresh-sender", TARGET, "0032", client="b" * 32).record
    assert service.lookup("fresh-sender", TARGET, "0032").record, "no key, no address limit"
    clock.now += 3601
    assert service.lookup("fresh-sender", TARGET, "0032", client=client).record


def test_without_a_client_key_only_the_sender_and_case_limits_apply(service):
    for i in range(30):
        client = "" if i % 2 else None
        outcome = service.lookup(f"cli-{i}", f"ZZ2099{i:09d}", "0000", client=client).outcome
        assert outcome is Outcome.NO_MATCH
    assert service.lookup("cli-x", TARGET, "0032").outcome is Outcome.FOUND


def test_a_success_clears_no_counter(service):
    # The sender's: 4 failures, a correct lookup of a case the attacker knows, 1 more failure.
    for i in range(4):
        service.lookup("mallory", f"ZZ2099{i:09d}", "0000")
    assert service.lookup("mallory", OTHER, OTHER_LAST4).record
    assert service.lookup("mallory", "ZZ2099000000009", "0000").outcome is Outcome.NO_MATCH
    assert service.lookup("mallory", OTHER, OTHER_LAST4).outcome is Outcome.LOCKED

    # The client's: 19 failures, a success, 1 failure: the address is at its limit.
    client = "c" * 32
    for i in range(19):
        service.lookup(f"c{i}", f"YY2099{i:09d}", "0000", client=client)
    assert service.lookup("c19", OTHER, OTHER_LAST4, client=client).record
    assert service.lookup("c20", "YY2099000000099", "0000", client=client).outcome is (
        Outcome.NO_MATCH
    )
    assert service.lookup("c21", OTHER, OTHER_LAST4, client=client).outcome is Outcome.LOCKED

    # Another case's counter, and the same case's: 4 failures each, then a success of the other.
    for i in range(4):
        service.lookup(f"x{i}", TARGET, "9999")
    assert service.lookup("owner", TARGET, "0032").record, "4 failures do not lock"
    assert service.lookup("x4", TARGET, "9999").outcome is Outcome.NO_MATCH, "the 5th counts"
    assert service.lookup("owner", TARGET, "0032").outcome is Outcome.CASE_LOCKED


def test_a_missing_case_locks_exactly_like_an_existing_one(service):
    for i in range(5):
        service.lookup(f"m{i}", "ZZ2099123100001", "0032")
        service.lookup(f"e{i}", TARGET, "9999")
    missing = service.lookup("p", "ZZ2099123100001", "0032")
    existing = service.lookup("p", TARGET, "9999")
    assert missing == existing and missing.outcome is Outcome.CASE_LOCKED
    assert replies.outcome_text(missing) == replies.outcome_text(existing)


def test_malformed_input_counts_nowhere(service):
    for i in range(20):
        assert service.lookup(f"t{i}", TARGET, "12").outcome is Outcome.INVALID_LAST4
        assert service.lookup(f"t{i}", "SC12", "0032", client="a" * 32).outcome is (
            Outcome.INVALID_CASE
        )
    assert service.lookup("t0", TARGET, "0032", client="a" * 32).outcome is Outcome.FOUND


def test_a_global_anomaly_is_logged_once_and_locks_nobody_out(service, clock, caplog):
    caplog.set_level(logging.WARNING, logger="tongban.cases")

    def alarms() -> list[logging.LogRecord]:
        return [r for r in caplog.records if "possible enumeration" in r.getMessage()]

    def fail(count: int, tag: str) -> None:
        for i in range(count):
            service.lookup(f"{tag}-{i}", f"{tag}2099{i:09d}", "0000")

    fail(200, "AA")
    assert alarms() == [], "200 in 10 minutes is the limit, not over it"
    fail(1, "AB")
    assert len(alarms()) == 1 and alarms()[0].levelno == logging.WARNING
    assert "201" in alarms()[0].getMessage()
    fail(300, "AC")
    assert len(alarms()) == 1, "rate-limited: one line per 10 minutes"
    assert service.lookup("honest", TARGET, "0032").outcome is Outcome.FOUND
    assert service.lookup("honest-2", OTHER, OTHER_LAST4, client=HONEST_CLIENT).record
    clock.now += 601
    fail(201, "AD")
    assert len(alarms()) == 2
    assert "SC2025110300342" not in caplog.text and "AA2099" not in caplog.text


# -- the counter interface ---------------------------------------------------------------------


class MemoryCounter:
    """The whole FailureCounter protocol in a few lines: what a Redis version has to do."""

    def __init__(self) -> None:
        self.hits: dict[str, list[float]] = defaultdict(list)

    def record(self, scope: str, at: float) -> None:
        self.hits[scope].append(at)

    def count(self, scope: str, since: float) -> int:
        return sum(t >= since for t in self.hits.get(scope, ()))

    def oldest(self, scope: str, since: float) -> float | None:
        return min((t for t in self.hits.get(scope, ()) if t >= since), default=None)

    def prune(self, before: float) -> None:
        for scope in self.hits:
            self.hits[scope] = [t for t in self.hits[scope] if t >= before]


def test_any_failure_counter_will_do_and_scopes_are_hashed(tmp_path):
    counter = MemoryCounter()
    store = make_service(tmp_path / "cases.db").store
    service = CaseService(store, counter, Clock(), KEYS)
    for i in range(5):
        service.lookup("mallory", TARGET, f"99{i:02d}", client="a" * 32)
    assert service.lookup("owner", TARGET, "0032").outcome is Outcome.CASE_LOCKED
    scopes = list(counter.hits)
    assert len(scopes) == 4, "case, sender, client, everything"
    assert all(len(s) == 32 and int(s, 16) >= 0 for s in scopes)
    assert not any(TARGET in s or "mallory" in s for s in scopes)


def test_sqlite_failure_counter(tmp_path):
    counter = SQLiteFailureCounter(tmp_path / "f.db")
    for at in (10.0, 20.0, 30.0):
        counter.record("s", at)
    counter.record("t", 15.0)
    assert counter.count("s", 15.0) == 2 and counter.oldest("s", 15.0) == 20.0
    assert counter.oldest("u", 0) is None and counter.count("u", 0) == 0
    counter.prune(25.0)
    assert counter.count("s", 0) == 1 and counter.count("t", 0) == 0
    assert SQLiteFailureCounter(tmp_path / "f.db").count("s", 0) == 1, "kept on disk"
