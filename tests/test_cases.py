"""Case status: stores, import, verification, privacy, and the form's validation.

The limits on failed verifications are tested in test_case_limits.py, the store at rest in
test_case_store.py, the lookup and history actions in test_actions.py."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
import yaml

from tongban.cases import (
    CaseService,
    CaseValidationError,
    Outcome,
    SQLiteCaseStore,
    SQLiteFailureCounter,
    replies,
)
from tongban.cases.http_store import HttpCaseStore
from tongban.cases.importer import import_file, read_records
from tongban.cases.model import find_case_id, find_last4, mask_name, normalise_case_id
from tongban.cases.store import SCHEMA_VERSION, CaseStoreError
from tongban.cli import main
from tongban.security.keys import Keys, looks_sealed
from tongban.settings import Settings

DATA = Path(__file__).parent / "data" / "cases"
GOOD, BAD = DATA / "good.yaml", DATA / "bad.yaml"
KEYS = Keys(b"test-secret")


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def make_service(path: Path, clock=None, keys: Keys = KEYS, imported: bool = True) -> CaseService:
    """A service over a SQLite store at `path` (with GOOD imported) and its failure counter."""
    db = SQLiteCaseStore(path, keys)
    if imported:
        import_file(GOOD, db)
    return CaseService(db, SQLiteFailureCounter(path), clock or Clock(), keys)


@pytest.fixture()
def store(tmp_path) -> SQLiteCaseStore:
    db = SQLiteCaseStore(tmp_path / "cases.db", KEYS)
    import_file(GOOD, db)
    return db


@pytest.fixture()
def clock() -> Clock:
    return Clock()


@pytest.fixture()
def service(store, clock) -> CaseService:
    return CaseService(store, SQLiteFailureCounter(store.path), clock, KEYS)


def test_sqlite_store_is_created_on_first_use_with_a_schema_version(tmp_path):
    path = tmp_path / "nested" / "cases.db"
    SQLiteCaseStore(path, KEYS)
    import sqlite3

    assert SCHEMA_VERSION == 2
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert SQLiteCaseStore(path, KEYS).get("SC2025110300342") is None


def test_import_good_file_then_again_upserts(tmp_path):
    db = SQLiteCaseStore(tmp_path / "c.db", KEYS)
    assert import_file(GOOD, db) == (3, 0)
    assert import_file(GOOD, db) == (0, 3)
    record = db.get("SC2025110300342")
    assert record.status == "待补正" and len(record.history) == 2


def test_import_json_too(tmp_path):
    data = yaml.safe_load(GOOD.read_text(encoding="utf-8"))
    path = tmp_path / "cases.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    assert len(read_records(path)) == 3


def test_bad_file_reports_index_and_field_and_imports_nothing(tmp_path):
    db = SQLiteCaseStore(tmp_path / "c.db", KEYS)
    with pytest.raises(CaseValidationError) as failure:
        import_file(BAD, db)
    problems = "\n".join(failure.value.problems)
    assert "第 2 条 · case_id" in problems
    assert "第 2 条 · id_last4" in problems
    assert "第 2 条 · status" in problems and "办理中" in problems
    assert "第 2 条 · accepted_at" in problems
    assert "第 1 条" not in problems
    assert db.get("SC2099010100001") is None, "nothing from a bad file is half-imported"


def test_duplicates_in_one_file_are_rejected(tmp_path):
    data = yaml.safe_load(GOOD.read_text(encoding="utf-8"))
    data["cases"].append(dict(data["cases"][0]))
    path = tmp_path / "dup.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(CaseValidationError) as failure:
        read_records(path)
    assert "第 4 条 · case_id：与第 1 条重复" in failure.value.problems[0]


@pytest.mark.parametrize("content", ["cases: [", "{}", "cases: []", "just text"])
def test_unreadable_files_are_reported(tmp_path, content):
    path = tmp_path / "x.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(CaseValidationError):
        read_records(path)


def test_cli_import(tmp_path, monkeypatch, capsys):
    config = Settings(secret_key=b"k", cases_db=str(tmp_path / "c.db"))
    monkeypatch.setattr("tongban.cases.service.settings", lambda: config)
    assert main(["cases", "import", str(GOOD)]) == 0
    assert "新增 3 条" in capsys.readouterr().out
    assert main(["cases", "import", str(BAD)]) == 2
    err = capsys.readouterr().err
    assert "第 2 条 · case_id" in err and "没有导入任何记录" in err
    assert main(["cases", "import", str(tmp_path / "missing.yaml")]) == 2


def test_cli_import_refuses_a_temporary_key(tmp_path, monkeypatch, capsys):
    # Hashes made with a per-process key could never be verified by the action server.
    monkeypatch.setenv("TONGBAN_CASES_DB", str(tmp_path / "c.db"))
    temporary = Settings(secret_key=b"k", ephemeral_secret=True)
    monkeypatch.setattr("tongban.cases.service.settings", lambda: temporary)
    assert main(["cases", "import", str(GOOD)]) == 2
    assert "TONGBAN_SECRET_KEY" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("typed", "normal"),
    [("SC2025110300342", "SC2025110300342"), ("sc2025110300342", "SC2025110300342"),
     ("ＳＣ２０２５１１０３００３４２", "SC2025110300342"), (" SC 2025-1103 00342 ", "SC2025110300342"),
     ("SC123", None), ("办件编号", None), ("A" * 33, None), ("", None)],
)  # fmt: skip
def test_case_numbers_are_normalised(typed, normal):
    assert normalise_case_id(typed) == normal


def test_both_values_from_one_message():
    text = "查询办件 SC2025110300342 身份证后四位0032"
    assert find_case_id(text) == "SC2025110300342"
    assert find_last4(text) == "0032"
    assert find_last4("手机尾号是 7788") == "7788"
    assert find_case_id("我的手机是13800001111") is None


def test_found_shows_the_case_with_the_name_masked(service):
    result = service.lookup("alice", "sc2025110300342", "0032")
    assert result.outcome is Outcome.FOUND
    text = replies.outcome_text(result)
    assert "户口迁移（夫妻投靠）" in text and "四川省成都市" in text
    assert "待补正" in text and "结婚证复印件" in text
    assert "2025年11月3日" in text and "2025年11月20日" in text
    assert "王*" in text and "王强" not in text
    assert len(text.splitlines()) <= 6


def test_phone_last4_also_verifies(service):
    assert service.lookup("bob", "GD2026020100917", "5566").outcome is Outcome.FOUND
    assert service.lookup("bob", "GD2026020100917", "123x").outcome is Outcome.FOUND


def test_unknown_case_and_wrong_verification_look_identical(service):
    missing = service.lookup("eve", "ZZ2099123100001", "0032")
    wrong = service.lookup("eve", "SC2025110300342", "9999")
    assert missing.outcome is wrong.outcome is Outcome.NO_MATCH
    assert replies.outcome_text(missing) == replies.outcome_text(wrong)


def test_sender_lockout_after_five_failures_for_one_hour(service, clock):
    for i in range(5):
        assert service.lookup("mallory", f"ZZ20991231{i:05d}", "0000").outcome is Outcome.NO_MATCH
    locked = service.lookup("mallory", "SC2025110300342", "0032")
    assert locked.outcome is Outcome.LOCKED and locked.retry_minutes == 61
    assert "61 分钟后再试" in replies.outcome_text(locked)
    assert service.lookup("someone-else", "SC2025110300342", "0032").outcome is Outcome.FOUND
    clock.now += 3601
    assert service.lookup("mallory", "SC2025110300342", "0032").outcome is Outcome.FOUND


def test_malformed_values_are_not_counted_as_failures(service):
    for _ in range(10):
        assert service.lookup("typo", "SC12", "0032").outcome is Outcome.INVALID_CASE
        assert service.lookup("typo", "SC2025110300342", "12").outcome is Outcome.INVALID_LAST4
    assert service.lookup("typo", "SC2025110300342", "0032").outcome is Outcome.FOUND


def test_history_only_after_verification(service):
    assert service.verified_record(None, "carol", 0) is None
    result = service.lookup("carol", "SC2025110300342", "7788")
    token = service.verified_token(result.record, "carol", 0)
    assert looks_sealed(token) and "SC2025110300342" not in token
    text = replies.history(service.verified_record(token, "carol", 0))
    assert "网上申请已受理" in text and "2025年11月5日 16:30" in text
    assert "SC2025110300342" not in text and "SC2" in text


def test_logs_mask_case_numbers_and_never_contain_the_verification(service, caplog):
    caplog.set_level(logging.INFO, logger="tongban.cases")
    service.lookup("dave", "SC2025110300342", "0032")
    service.lookup("dave", "SC2025110300342", "9999")
    logged = caplog.text
    assert "SC2025110300342" not in logged and "SC2" in logged
    assert "0032" not in logged.replace("0342", "") and "9999" not in logged


def test_sql_is_parameterised(service):
    assert service.lookup("x", "SC2025110300342' OR '1'='1", "0032").outcome is Outcome.INVALID_CASE
    assert service.store.get("' OR 1=1 --") is None


@pytest.mark.parametrize(
    ("name", "masked"), [("王强", "王*"), ("李小华", "李*华"), ("欧阳娜娜", "欧**娜"), ("A", "*")]
)
def test_names_are_masked(name, masked):
    assert mask_name(name) == masked


# -- the HTTP backend against a local server ----------------------------------------------------


class _Api(BaseHTTPRequestHandler):
    calls: ClassVar[list[str]] = []
    fail_first = 0

    def do_GET(self):
        _Api.calls.append(self.headers.get("Authorization", ""))
        if _Api.fail_first > 0:
            _Api.fail_first -= 1
            self.send_response(503)
            self.end_headers()
            return
        case = yaml.safe_load(GOOD.read_text(encoding="utf-8"))["cases"][0]
        if self.path != f"/api/cases/{case['case_id']}":
            self.send_response(404)
            self.end_headers()
            return
        body = json.dumps(case, ensure_ascii=False).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture()
def api():
    server = HTTPServer(("127.0.0.1", 0), _Api)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Api.calls, _Api.fail_first = [], 0
    yield f"http://127.0.0.1:{server.server_port}/api"
    server.shutdown()


def test_http_backend_reads_cases_with_the_token(api):
    store = HttpCaseStore(api, token="secret-token", timeout=2, retries=0)
    record = store.get("SC2025110300342")
    assert record.applicant == "王强" and record.history
    assert store.get("ZZ2099123100001") is None
    assert _Api.calls[0] == "Bearer secret-token"


def test_http_backend_matches_the_last_four_and_keeps_nothing(api, tmp_path):
    store = HttpCaseStore(api, timeout=2, retries=0)
    assert store.match("SC2025110300342", "7788").applicant == "王强"
    assert store.match("SC2025110300342", "9999") is None
    assert store.match("ZZ2099123100001", "0032") is None
    service = CaseService(store, SQLiteFailureCounter(tmp_path / "g.db"), keys=KEYS)
    assert service.lookup("h", "SC2025110300342", "0032").outcome is Outcome.FOUND
    assert list(tmp_path.iterdir()), "only the failure counters are written"
    assert all(b"SC2025110300342" not in p.read_bytes() for p in tmp_path.iterdir())


def test_http_backend_retries_then_gives_up(api):
    _Api.fail_first = 1
    assert HttpCaseStore(api, timeout=2, retries=1).get("SC2025110300342") is not None
    _Api.fail_first = 5
    with pytest.raises(CaseStoreError):
        HttpCaseStore(api, timeout=2, retries=1).get("SC2025110300342")


def test_http_backend_down_is_a_friendly_outcome(tmp_path):
    counter = SQLiteFailureCounter(tmp_path / "g.db")
    http = HttpCaseStore("http://127.0.0.1:9", timeout=0.2, retries=0)
    service = CaseService(http, counter, keys=KEYS)
    result = service.lookup("x", "SC2025110300342", "0032")
    assert result.outcome is Outcome.UNAVAILABLE
    assert "12345" in replies.outcome_text(result)


def test_backend_is_chosen_by_configuration(tmp_path, api):
    env = {
        "TONGBAN_CASES_DB": str(tmp_path / "g.db"),
        "TONGBAN_CASES_BACKEND": "http",
        "TONGBAN_CASES_URL": api,
    }
    assert isinstance(CaseService.from_env(env, KEYS).store, HttpCaseStore)
    env["TONGBAN_CASES_BACKEND"] = "sqlite"
    assert isinstance(CaseService.from_env(env, KEYS).store, SQLiteCaseStore)
    env["TONGBAN_CASES_BACKEND"] = "oracle"
    with pytest.raises(CaseStoreError):
        CaseService.from_env(env, KEYS)


# -- the Rasa form's validation: sealed slot values ------------------------------------------


@pytest.fixture()
def form_cases(tmp_path, monkeypatch) -> CaseService:
    """The actions' CaseService, replaced by one with the test key and a clock."""
    import actions.cases

    service = make_service(tmp_path / "form.db")
    monkeypatch.setattr(actions.cases, "CASES", service)
    return service


def _form_tracker(text, requested, intent="inform", slots=None, events=(), sender="form-user"):
    from rasa_sdk import Tracker

    return Tracker(
        sender_id=sender,
        slots={"requested_slot": requested, "case_number": None, "verification": None}
        | (slots or {}),
        latest_message={"text": text, "intent": {"name": intent}, "entities": []},
        events=list(events),
        paused=False,
        followup_action=None,
        active_loop={"name": "case_status_form"},
        latest_action_name="action_listen",
    )


def _run_form(text, requested, intent="inform", **tracker_args):
    from rasa_sdk.executor import CollectingDispatcher

    from actions.cases import ValidateCaseStatusForm

    dispatcher = CollectingDispatcher()
    domain = {"forms": {"case_status_form": {"required_slots": ["case_number", "verification"]}}}
    state = _form_tracker(text, requested, intent, **tracker_args)
    events = asyncio.run(ValidateCaseStatusForm().run(dispatcher, state, domain))
    slots = {e["name"]: e["value"] for e in events if e["event"] == "slot"}
    return slots, [m["text"] for m in dispatcher.messages]


def _opened(service: CaseService, slots: dict, sender: str = "form-user") -> dict:
    """The plain values behind the sealed slot values (None where a slot holds nothing valid)."""
    return {
        name: service.tokens.form_value(name, value, sender)
        for name, value in slots.items()
        if name in ("case_number", "verification")
    }


def test_form_takes_both_values_from_one_message(form_cases):
    slots, messages = _run_form("查询办件 SC2025110300342 身份证后四位0032", None, "case_status")
    assert _opened(form_cases, slots) == {"case_number": "SC2025110300342", "verification": "0032"}
    assert all(looks_sealed(slots[name]) for name in ("case_number", "verification"))
    raw = json.dumps(slots)
    assert "SC2025110300342" not in raw and "0032" not in raw and "0342" not in raw
    assert messages == []


def test_form_over_two_turns_seals_each_value(form_cases):
    first, _ = _run_form("SC2025110300342", "case_number")
    assert set(first) == {"case_number"} and looks_sealed(first["case_number"])
    # Turn 2: the sealed number is in the tracker; only the new value is extracted and sealed,
    # the number is not validated again as if the user had typed it.
    second, messages = _run_form(
        "0032", "verification", slots={"case_number": first["case_number"]}
    )
    assert set(second) == {"verification"} and messages == []
    both = {**first, **second}
    assert _opened(form_cases, both) == {"case_number": "SC2025110300342", "verification": "0032"}
    assert "SC2025110300342" not in json.dumps(both) and "0032" not in json.dumps(both)


def test_form_passes_prefilled_sealed_values_through(form_cases):
    # At activation Rasa hands slots that already have a value back for validation.
    sealed = form_cases.tokens.seal_form_value("case_number", "SC2025110300342", "form-user")
    candidate = [{"event": "slot", "name": "case_number", "value": sealed}]
    slots, messages = _run_form(
        "帮我查一下进度", None, "case_status", slots={"case_number": sealed}, events=candidate
    )
    assert slots["case_number"] == sealed and messages == []


def test_form_drops_a_value_sealed_for_another_sender_or_too_long_ago(form_cases):
    foreign = form_cases.tokens.seal_form_value("case_number", "SC2025110300342", "someone-else")
    candidate = [{"event": "slot", "name": "case_number", "value": foreign}]
    slots, messages = _run_form(
        "帮我查一下进度", None, "case_status", slots={"case_number": foreign}, events=candidate
    )
    assert slots["case_number"] is None and messages == [], "dropped quietly: the form asks"
    old = form_cases.tokens.seal_form_value("verification", "0032", "form-user")
    form_cases.clock.now += 1801
    candidate = [{"event": "slot", "name": "verification", "value": old}]
    slots, _ = _run_form(
        "查进度", None, "case_status", slots={"verification": old}, events=candidate
    )
    assert slots["verification"] is None


def test_form_rejects_malformed_case_numbers_and_asks_again(form_cases):
    slots, messages = _run_form("SC12-34", "case_number")
    assert slots["case_number"] is None and messages == [replies.BAD_CASE_NUMBER]


def test_form_normalises_full_width_case_numbers(form_cases):
    slots, _ = _run_form("ＳＣ２０２５１１０３００３４２", "case_number")
    assert _opened(form_cases, slots)["case_number"] == "SC2025110300342"


@pytest.mark.parametrize(
    ("typed", "value"), [("0032", "0032"), ("１２３x", "123X"), ("12", None), ("12345", None)]
)
def test_form_validates_the_last_four(form_cases, typed, value):
    slots, messages = _run_form(typed, "verification")
    assert _opened(form_cases, slots)["verification"] == value
    assert (messages == [replies.BAD_LAST4]) is (value is None)


def test_form_leaves_a_refusal_to_the_rules(form_cases):
    slots, _ = _run_form("算了不查了", "case_number", "deny")
    assert "case_number" not in slots


@pytest.mark.parametrize(("text", "intent"), [("帮我查办件", "case_status"), ("0", "nlu_fallback")])
def test_an_unusable_answer_to_the_form_gets_the_hint_not_silence(text, intent) -> None:
    import asyncio

    from rasa_sdk import Tracker

    from actions.cases import ValidateCaseStatusForm

    tracker = Tracker(
        "s1", {"requested_slot": "case_number"},
        {"text": text, "intent": {"name": intent}, "entities": []},
        [], False, None, {"name": "case_status_form"}, "action_listen",
    )  # fmt: skip
    extracted = asyncio.run(ValidateCaseStatusForm().extract_case_number(None, tracker, {}))
    assert extracted == {"case_number": text}  # validation then says what is wrong and asks again
