"""The embedded case store at rest: no case number, last 4 or full name in the file, and the
upgrade of a version 1 file (which kept them in plain text)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import yaml

from tests.test_cases import GOOD, KEYS, Clock, make_service
from tongban.cases import CaseService, Outcome, SQLiteCaseStore, SQLiteFailureCounter
from tongban.cases.importer import import_file, read_records
from tongban.cases.store import SCHEMA_VERSION, CaseStoreError
from tongban.security.keys import Keys

CASES = yaml.safe_load(GOOD.read_text(encoding="utf-8"))["cases"]
CASE_IDS = [c["case_id"] for c in CASES]
LAST4S = [c[key] for c in CASES for key in ("id_last4", "phone_last4")]
NAMES = [c["applicant"] for c in CASES]


def file_bytes(path: Path) -> bytes:
    """The database and its write-ahead log and shared-memory files, as stored on disk."""
    return b"".join(p.read_bytes() for p in sorted(path.parent.glob(path.name + "*")))


def assert_nothing_plain(path: Path) -> None:
    raw = file_bytes(path)
    for secret in [*CASE_IDS, *LAST4S, *NAMES]:
        assert secret.encode() not in raw, f"{secret} is stored in plain text"


def test_after_import_the_file_holds_no_case_number_last4_or_name(tmp_path):
    path = tmp_path / "cases.db"
    store = SQLiteCaseStore(path, KEYS)
    assert import_file(GOOD, store) == (3, 0)
    assert_nothing_plain(path)
    # ... and lookups still verify, by either last 4, case-insensitively for the X.
    assert store.match("SC2025110300342", "0032").item == "户口迁移（夫妻投靠）"
    assert store.match("SC2025110300342", "7788") is not None
    assert store.match("GD2026020100917", "123x") is not None
    assert store.match("SC2025110300342", "5566") is None, "another case's last 4"
    assert store.match("SC2025110300342", "") is None
    assert store.match("ZZ2099123100001", "0032") is None


def test_the_file_keeps_masked_values_for_display(tmp_path):
    path = tmp_path / "cases.db"
    import_file(GOOD, SQLiteCaseStore(path, KEYS))
    rows = sqlite3.connect(path).execute("SELECT case_masked, applicant_masked FROM cases")
    assert ("SC2********0342", "王*") in set(rows)
    record = SQLiteCaseStore(path, KEYS).get("HB2026031500021")
    assert record.applicant == "欧**娜" and record.case_id == "HB2026031500021"
    assert record.id_last4 == record.phone_last4 == "" and not record.verifies("")


def test_equal_last4_of_two_cases_hash_differently(tmp_path):
    path = tmp_path / "cases.db"
    store = SQLiteCaseStore(path, KEYS)
    first = read_records(GOOD)[0]
    twin = first.__class__(**{**first.__dict__, "case_id": "ZZ2099123100001"})
    store.upsert([first, twin])
    hashes = sqlite3.connect(path).execute("SELECT id_last4_hash FROM cases").fetchall()
    assert len(set(hashes)) == 2
    assert store.match("ZZ2099123100001", "0032") is not None


def test_a_failure_counter_in_the_same_file_stores_only_hashes(tmp_path):
    path = tmp_path / "cases.db"
    service = make_service(path)
    service.lookup("sender-alice", "SC2025110300342", "9999", client="c" * 32)
    service.lookup("sender-alice", "ZZ2099123100001", "0032")
    raw = file_bytes(path)
    assert b"sender-alice" not in raw and b"c" * 32 not in raw
    assert b"SC2025110300342" not in raw and b"ZZ2099123100001" not in raw


def test_another_key_is_refused_with_a_clear_message(tmp_path):
    path = tmp_path / "cases.db"
    import_file(GOOD, SQLiteCaseStore(path, KEYS))
    other = SQLiteCaseStore(path, Keys(b"another-secret"))
    with pytest.raises(CaseStoreError, match="另一个密钥"):
        other.match("SC2025110300342", "0032")
    with pytest.raises(CaseStoreError, match="另一个密钥"):
        import_file(GOOD, other)
    service = CaseService(other, SQLiteFailureCounter(path), Clock(), Keys(b"another-secret"))
    assert service.lookup("x", "SC2025110300342", "0032").outcome is Outcome.UNAVAILABLE
    assert SQLiteCaseStore(path, KEYS).match("SC2025110300342", "0032") is not None


# -- a version 1 file ------------------------------------------------------------------------

_V1 = """
CREATE TABLE cases (case_id TEXT PRIMARY KEY, item TEXT NOT NULL, applicant TEXT NOT NULL,
    id_last4 TEXT NOT NULL, phone_last4 TEXT NOT NULL, region TEXT NOT NULL, status TEXT NOT NULL,
    status_note TEXT NOT NULL DEFAULT '', accepted_at TEXT NOT NULL, due_at TEXT NOT NULL DEFAULT '',
    updated_at TEXT NOT NULL, history TEXT NOT NULL DEFAULT '[]');
CREATE TABLE attempts (scope TEXT NOT NULL, at REAL NOT NULL);
CREATE TABLE verified (scope TEXT PRIMARY KEY, case_id TEXT NOT NULL, at REAL NOT NULL);
PRAGMA user_version = 1;
"""


def version1_file(path: Path) -> None:
    """A file as the version 1 store wrote it: everything in plain text."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(_V1)
    for r in read_records(GOOD):
        db.execute(
            "INSERT INTO cases VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (r.case_id, r.item, r.applicant, r.id_last4, r.phone_last4, r.region, r.status,
             r.status_note, r.accepted_at, r.due_at, r.updated_at,
             '[{"at": "2025-11-03T10:00:00+08:00", "status": "已受理", "note": "网上申请已受理"}]'),
        )  # fmt: skip
    db.execute("INSERT INTO verified VALUES ('verified:x', 'SC2025110300342', 1.0)")
    db.close()
    assert b"SC2025110300342" in file_bytes(path)


def test_a_version1_file_is_not_read_until_imported_again(tmp_path):
    path = tmp_path / "cases.db"
    version1_file(path)
    store = SQLiteCaseStore(path, KEYS)
    with pytest.raises(CaseStoreError, match=r"旧版本.*tongban cases import"):
        store.match("SC2025110300342", "0032")
    service = CaseService(store, SQLiteFailureCounter(path), Clock(), KEYS)
    assert service.lookup("x", "SC2025110300342", "0032").outcome is Outcome.UNAVAILABLE
    with pytest.raises(CaseStoreError):
        SQLiteCaseStore(path, KEYS).get("SC2025110300342")
    # Opening it changed no record (the counter only added its own table).
    rows = sqlite3.connect(path).execute("SELECT case_id, id_last4 FROM cases").fetchall()
    assert ("SC2025110300342", "0032") in rows


def test_the_next_import_upgrades_a_version1_file_in_place(tmp_path):
    path = tmp_path / "cases.db"
    version1_file(path)
    store = SQLiteCaseStore(path, KEYS)
    only_one = tmp_path / "one.yaml"
    only_one.write_text(yaml.safe_dump({"cases": [CASES[1]]}, allow_unicode=True), encoding="utf-8")
    assert import_file(only_one, store) == (0, 1), "the upgraded records are kept and updated"
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "attempts" not in tables and "verified" not in tables
    db.close()
    assert_nothing_plain(path)
    reopened = SQLiteCaseStore(path, KEYS)
    assert reopened.match("SC2025110300342", "7788").history[0].note == "网上申请已受理"
    assert reopened.match("HB2026031500021", "4417") is not None
    assert reopened.match("GD2026020100917", "5566").status == "已办结"


def test_a_store_opened_before_the_upgrade_reads_the_upgraded_file(tmp_path):
    path = tmp_path / "cases.db"
    version1_file(path)
    server = SQLiteCaseStore(path, KEYS)  # the action server, started before the import
    with pytest.raises(CaseStoreError):
        server.match("SC2025110300342", "0032")
    SQLiteCaseStore(path, KEYS).upsert([])  # `tongban cases import` in another process
    assert server.match("SC2025110300342", "0032") is not None
    assert server.upsert([]) == (0, 0)
