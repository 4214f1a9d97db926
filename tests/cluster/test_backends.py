"""The shared backends on the real PostgreSQL and Redis (no Rasa needed): the same behaviour as
the embedded ones, chosen from settings. Database tongban_backends_test, Redis keys "tbunit:*"."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
import redis
import sqlalchemy

from tests.cluster.conftest import start_postgres, start_redis
from tongban.cases.limits import RedisFailureCounter, SQLiteFailureCounter, counter_from_settings
from tongban.cases.model import CaseRecord
from tongban.cases.service import CaseService, Outcome
from tongban.cases.store import SQLCaseStore
from tongban.channels.feedback import Feedback, FeedbackStore, SQLFeedbackStore, feedback_store
from tongban.cli import main
from tongban.cluster import ensure_database
from tongban.console.pg_stores import console_stores
from tongban.console.ratings import (
    FIND_BATCH,
    PRUNE_EVERY,
    Answered,
    SQLAnswerLog,
    SQLiteAnswerLog,
    answer_log,
    group_ratings,
    read_ratings,
)
from tongban.console.stores import AuditEntry, AuditQuery, Session, Staff, StaffError
from tongban.security.keys import Keys
from tongban.settings import Settings
from tongban.stores import shared
from tongban.stores.redis_state import (
    RedisReplyLog,
    RedisTTLStore,
    reply_log,
    socketio_manager,
    wechat_store,
)

URL = "postgresql://postgres@127.0.0.1:5432/tongban_backends_test"
REDIS = "redis://127.0.0.1:6379/0"
KEYS = Keys(b"unit-test-key")


@pytest.fixture(scope="module", autouse=True)
def fresh():
    start_postgres()
    start_redis()
    admin = sqlalchemy.create_engine(
        "postgresql://postgres@127.0.0.1:5432/postgres", isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(sqlalchemy.text("DROP DATABASE IF EXISTS tongban_backends_test WITH (FORCE)"))
    admin.dispose()
    shared._engines.clear()
    shared._upgraded.clear()
    ensure_database(URL)
    client = redis.Redis()
    for key in client.scan_iter("tbunit*"):
        client.delete(key)
    yield


def shared_settings(**kw) -> Settings:
    env = {"TONGBAN_DATABASE_URL": URL, "TONGBAN_REDIS_URL": REDIS, "TONGBAN_KEY_PREFIX": "tbunit"}
    return Settings.from_env({**env, **kw})


def test_settings_choose_embedded_by_default_and_shared_with_urls(tmp_path):
    embedded = Settings.from_env({"TONGBAN_CASES_DB": str(tmp_path / "c.db")})
    assert (embedded.cases_backend, embedded.counter_backend, embedded.feedback_backend) == (
        "sqlite", "sqlite", "sqlite")  # fmt: skip
    assert isinstance(counter_from_settings(embedded), SQLiteFailureCounter)
    assert isinstance(feedback_store(tmp_path / "f.db", embedded), FeedbackStore)
    assert isinstance(answer_log(embedded), SQLiteAnswerLog)
    assert socketio_manager(embedded) is None
    both = shared_settings()
    assert isinstance(counter_from_settings(both), RedisFailureCounter)
    assert isinstance(feedback_store(tmp_path / "f.db", both), SQLFeedbackStore)
    assert isinstance(answer_log(both), SQLAnswerLog)
    assert isinstance(reply_log(both), RedisReplyLog)
    assert isinstance(wechat_store(both), RedisTTLStore)
    assert type(socketio_manager(both)).__name__ == "AsyncRedisManager"
    with pytest.raises(shared.BackendError, match="unknown backend"):
        counter_from_settings(Settings.from_env({"TONGBAN_COUNTER_BACKEND": "etcd"}))


MIGRATIONS_DB = "tongban_migrations_test"
MIGRATIONS_URL = f"postgresql://postgres@127.0.0.1:5432/{MIGRATIONS_DB}"
BASELINE_TABLES = {
    "tbmig_alembic_version", "tbmig_cases", "tbmig_cases_meta", "tbmig_feedback", "tbmig_answers",
    "tickets", "messages", "callbacks", "staff", "sessions", "audit",
}  # fmt: skip


def _drop_database(name: str) -> None:
    admin = sqlalchemy.create_engine(
        "postgresql://postgres@127.0.0.1:5432/postgres", isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(sqlalchemy.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


@pytest.fixture()
def empty_db():
    """An empty database of its own for each migration test (tables prefixed "tbmig"), dropped
    afterwards: the handoff and console tables have no prefix, so no other test may share it."""
    _drop_database(MIGRATIONS_DB)
    ensure_database(MIGRATIONS_URL)
    yield shared.engine(MIGRATIONS_URL)
    shared._upgraded.discard((MIGRATIONS_URL, "tbmig"))
    shared._engines.pop(MIGRATIONS_URL).dispose()
    _drop_database(MIGRATIONS_DB)


def _versions(eng) -> list[str]:
    with eng.connect() as conn:
        return [r[0] for r in conn.execute(sqlalchemy.text("SELECT * FROM tbmig_alembic_version"))]


def test_upgrade_builds_the_baseline_once(empty_db):
    assert shared.current(empty_db, "tbmig") == (None, "0001")
    assert shared.upgrade(empty_db, "tbmig") == (None, "0001")
    inspector = sqlalchemy.inspect(empty_db)
    assert set(inspector.get_table_names()) == BASELINE_TABLES
    assert {i["name"] for i in inspector.get_indexes("tickets")} == {
        "tickets_one_open", "tickets_state"}  # fmt: skip
    assert [i["name"] for i in inspector.get_indexes("tbmig_answers")] == ["tbmig_answers_at"]
    assert shared.upgrade(empty_db, "tbmig") == ("0001", "0001")  # nothing left to do
    assert shared.current(empty_db, "tbmig") == ("0001", "0001")
    assert _versions(empty_db) == ["0001"]


def test_instances_starting_together_upgrade_once(empty_db):
    """Two upgrades wait on the advisory lock while a third party holds it; once it is free, one
    builds the tables and the other finds them built."""
    results: list[tuple] = []
    with empty_db.begin() as holder:
        holder.execute(
            sqlalchemy.text("SELECT pg_advisory_xact_lock(:k)"), {"k": shared._MIGRATION_LOCK}
        )
        threads = [
            threading.Thread(target=lambda: results.append(shared.upgrade(empty_db, "tbmig")))
            for _ in range(2)
        ]
        for thread in threads:
            thread.start()
        time.sleep(0.5)
        assert results == [] and all(t.is_alive() for t in threads)
    for thread in threads:
        thread.join(30)
    assert sorted(results, key=str) == [("0001", "0001"), (None, "0001")]
    assert _versions(empty_db) == ["0001"]


def test_a_database_of_the_old_migrations_upgrades_and_keeps_its_rows(empty_db):
    """Tables made by the step lists Tongban had before Alembic (cases and feedback used, the
    answer log and handoff queue never): the rows stay, the rest is created, the old table goes."""
    legacy = [
        "CREATE TABLE tbmig_schema_migrations (component TEXT PRIMARY KEY,"
        " version INTEGER NOT NULL, applied_at TEXT NOT NULL)",
        "INSERT INTO tbmig_schema_migrations VALUES ('cases', 1, '2026-11-20T08:00:00+00:00'),"
        " ('feedback', 1, '2026-11-20T08:00:00+00:00')",
        """CREATE TABLE tbmig_cases (
    case_key TEXT PRIMARY KEY, case_masked TEXT NOT NULL, item TEXT NOT NULL,
    applicant_masked TEXT NOT NULL, id_last4_hash TEXT NOT NULL, phone_last4_hash TEXT NOT NULL,
    region TEXT NOT NULL, status TEXT NOT NULL, status_note TEXT NOT NULL DEFAULT '',
    accepted_at TEXT NOT NULL, due_at TEXT NOT NULL DEFAULT '', updated_at TEXT NOT NULL,
    history TEXT NOT NULL DEFAULT '[]')""",
        "CREATE TABLE tbmig_cases_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        """CREATE TABLE tbmig_feedback (
    id BIGSERIAL PRIMARY KEY, session_id TEXT NOT NULL, message_id TEXT NOT NULL,
    rating TEXT NOT NULL CHECK (rating IN ('up', 'down')), reason TEXT,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL, UNIQUE (session_id, message_id))""",
        "INSERT INTO tbmig_feedback (session_id, message_id, rating, reason, created_at,"
        " updated_at) VALUES ('s1', 'm1', 'down', '没说清楚', '2026-11-21', '2026-11-21')",
    ]
    with empty_db.begin() as conn:
        for statement in legacy:
            conn.execute(sqlalchemy.text(statement))
    store = SQLCaseStore(MIGRATIONS_URL, KEYS, prefix="tbmig")
    assert store.upsert([record()]) == (1, 0)  # the first use upgrades
    assert set(sqlalchemy.inspect(empty_db).get_table_names()) == BASELINE_TABLES
    assert _versions(empty_db) == ["0001"]
    ratings = SQLFeedbackStore(MIGRATIONS_URL, "tbmig").recent()
    assert [(r.message_id, r.rating, r.reason) for r in ratings] == [("m1", "down", "没说清楚")]
    assert store.match("SC2025110300342", "0032") is not None


def test_a_database_newer_than_the_program_is_refused(empty_db, monkeypatch, capsys):
    shared.upgrade(empty_db, "tbmig")
    with empty_db.begin() as conn:
        conn.execute(sqlalchemy.text("UPDATE tbmig_alembic_version SET version_num = 'f00d2030'"))
    with pytest.raises(shared.BackendError, match="f00d2030 is newer than this program"):
        shared.upgrade(empty_db, "tbmig")
    with pytest.raises(shared.BackendError, match="newer"):
        SQLFeedbackStore(MIGRATIONS_URL, "tbmig").recent()
    monkeypatch.setenv("TONGBAN_DATABASE_URL", MIGRATIONS_URL)
    monkeypatch.setenv("TONGBAN_KEY_PREFIX", "tbmig")
    assert main(["db", "current"]) == 2
    assert "f00d2030 is newer than this program" in capsys.readouterr().err


def test_db_commands_upgrade_and_print_the_revision(empty_db, monkeypatch, capsys):
    monkeypatch.setenv("TONGBAN_DATABASE_URL", MIGRATIONS_URL)
    monkeypatch.setenv("TONGBAN_KEY_PREFIX", "tbmig")
    assert main(["db", "current"]) == 0
    assert "还没有建表" in capsys.readouterr().out
    assert main(["db", "upgrade"]) == 0
    assert "已从 空库 升级到 0001" in capsys.readouterr().out
    assert main(["db", "upgrade"]) == 0
    assert "已是最新版本 0001" in capsys.readouterr().out
    assert main(["db", "current"]) == 0
    out = capsys.readouterr().out
    assert "表名前缀 tbmig" in out and "表结构版本 0001（最新）" in out


def record(case_id="SC2025110300342") -> CaseRecord:
    return CaseRecord(
        case_id=case_id, item="户口迁移", applicant="张三", id_last4="0032", phone_last4="7788",
        region="四川省成都市", status="待补正", status_note="", accepted_at="2025-11-03",
        due_at="", updated_at="2025-11-05", history=(),
    )  # fmt: skip


def test_sql_case_store_hashes_at_rest_and_verifies():
    store = SQLCaseStore(URL, KEYS, prefix="tbunit")
    assert store.upsert([record()]) == (1, 0)
    assert store.upsert([record()]) == (0, 1)
    assert store.match("SC2025110300342", "0032").applicant == "张*"
    assert store.match("SC2025110300342", "7788") is not None
    assert store.match("SC2025110300342", "1111") is None
    assert store.match("SC2025110300999", "0032") is None
    with shared.engine(URL).connect() as conn:
        dump = str(conn.execute(sqlalchemy.text("SELECT * FROM tbunit_cases")).fetchall())
    assert "SC2025110300342" not in dump and "0032" not in dump and "张三" not in dump


def test_redis_counters_share_the_case_limit_between_two_services():
    a = CaseService(
        SQLCaseStore(URL, KEYS, prefix="tbunit"),
        RedisFailureCounter(redis.Redis(), "tbunit"),
        keys=KEYS,
    )
    b = CaseService(
        SQLCaseStore(URL, KEYS, prefix="tbunit"),
        RedisFailureCounter(redis.Redis(), "tbunit"),
        keys=KEYS,
    )
    outcomes = [
        (a if n % 2 else b).lookup(f"s{n}", "SC2025110300342", f"{2000 + n}").outcome
        for n in range(6)
    ]
    assert outcomes[:5] == [Outcome.NO_MATCH] * 5
    assert outcomes[5] is Outcome.CASE_LOCKED


def test_counter_unreachable_refuses_lookups():
    dead = RedisFailureCounter(redis.Redis(port=1, socket_connect_timeout=0.2), "tbunit")
    service = CaseService(SQLCaseStore(URL, KEYS, prefix="tbunit"), dead, keys=KEYS)
    assert service.lookup("s", "SC2025110300342", "0032").outcome is Outcome.UNAVAILABLE


def test_sql_feedback_store_one_rating_per_answer():
    store = SQLFeedbackStore(URL, "tbunit")
    store.save(Feedback("sess", "m1", "up"))
    store.save(Feedback("sess", "m1", "down", "不清楚"))
    store.save(Feedback("sess", "m2", "up"))
    assert store.get("sess", "m1") == Feedback("sess", "m1", "down", "不清楚")
    assert store.summary() == {"up": 1, "down": 1, "total": 2}


def test_ratings_view_on_one_instance_shows_what_another_stored():
    """Instance A takes a rating and notes the rated answer; the console's 好差评 view on
    instance B (its own store objects on the same database) shows them grouped together."""
    settings = shared_settings(TONGBAN_KEY_PREFIX="tbview")  # ratings of this test only
    a_feedback, a_answers = feedback_store("unused.db", settings), answer_log(settings)
    lead = "办理结婚登记需要带户口簿和身份证"
    a_answers.note(Answered("citizen1", "m1", "marriage_registration", "documents", lead))
    a_answers.note(Answered("citizen2", "m1", "marriage_registration", "documents", lead))
    a_feedback.save(Feedback("citizen1", "m1", "down", "没说要不要照片"))
    a_feedback.save(Feedback("citizen2", "m1", "up"))
    a_feedback.save(Feedback("citizen3", "m9", "down"))  # its answer was never noted
    b_feedback, b_answers = SQLFeedbackStore(URL, "tbview"), SQLAnswerLog(URL, "tbview")
    groups = group_ratings(
        read_ratings(b_feedback, b_answers), {"marriage_registration": "结婚登记"}
    )
    assert [(g["name"], g["up"], g["down"]) for g in groups] == [
        ("结婚登记", 1, 1), ("（未关联事项）", 0, 1)]  # fmt: skip
    answer = groups[0]["answers"][0]
    assert (answer["lead"], answer["up"], answer["down"]) == (lead, 1, 1)
    assert [r["reason"] for r in answer["reasons"]] == ["没说要不要照片"]


def test_sql_answer_log_finds_many_answers_and_forgets_old_ones():
    log, other = SQLAnswerLog(URL, "tbunit"), SQLAnswerLog(URL, "tbunit")
    keys = [("s", f"m{n}") for n in range(FIND_BATCH + 5)]  # more than one query's worth
    for _, message in keys:
        log.note(Answered("s", message, "x", "can", f"回答{message}"))
    other.note(Answered("s", "m0", "y", "where", "改过的回答"))  # sent again, by another instance
    found = other.find([*keys, ("nobody", "m0")])
    assert len(found) == len(keys) and found[("s", "m3")].lead == "回答m3"
    assert found[("s", "m0")] == Answered("s", "m0", "y", "where", "改过的回答")
    with shared.engine(URL).begin() as conn:
        conn.execute(sqlalchemy.text("UPDATE tbunit_answers SET at = 0 WHERE message_id = 'm1'"))
        (version,) = conn.execute(sqlalchemy.text("SELECT * FROM tbunit_alembic_version")).one()
    assert version == "0001"
    other._last_prune -= PRUNE_EVERY + 1  # an hour later
    other.note(Answered("s", "new", None, None, "新的回答"))
    assert log.find([("s", "m1")]) == {} and ("s", "m2") in log.find([("s", "m2")])


def test_redis_reply_log_and_ttl_store():
    async def run():
        log = RedisReplyLog(REDIS, "tbunit")
        assert await log.claim("s1", "c1")
        assert not await log.claim("s1", "c1")
        with pytest.raises(TimeoutError):
            await log.replay("s1", "c1", 0.1)
        await log.record("s1", "c1", {"text": "答复"})
        await log.finish("s1", "c1")
        assert await log.replay("s1", "c1", 1) == [{"text": "答复"}]
        assert await log.claim("s1", "c2")
        await log.finish("s1", "c2", keep=False)
        assert await log.replay("s1", "c2", 1) is None
        store = RedisTTLStore(REDIS, "tbunit")
        assert await store.add("k", "v", 5)
        assert not await store.add("k", "w", 5)
        assert await store.get("k") == "v"
        await store.set("k", "x", 5)
        assert await store.get("k") == "x"
        await store.delete("k")
        assert await store.get("k") is None

    asyncio.run(run())


def test_console_stores_in_postgres():
    stores = console_stores(shared_settings())
    assert type(stores.staff).__name__ == "PGStaffStore"
    stores.staff.add(Staff("wang", "agent", "hash"))
    with pytest.raises(StaffError):
        stores.staff.add(Staff("wang", "agent", "hash"))
    stores.staff.set_password("wang", "hash2")
    assert stores.staff.get("wang").password_hash == "hash2"
    stores.sessions.create(Session("key1", "wang", "csrf", 1.0, 1.0, "client"))
    stores.sessions.touch("key1", 2.0)
    assert stores.sessions.get("key1").last_seen == 2.0
    stores.audit.add(AuditEntry(5.0, "wang", "case_lookup", "SC2025****0342", "found"))
    assert [e.agent for e in stores.audit.query(AuditQuery(agent="wang"))] == ["wang"]


def test_handoff_queue_in_postgres_is_shared_between_instances():
    """Two stores (two instances) on one database: one open ticket per sender, a ticket taken by
    one agent cannot be taken by another, messages deduplicated by the agent page's id."""
    from tongban.handoff.pg_store import PGHandoffStore, handoff_store
    from tongban.handoff.store import HandoffError, StoredMessage

    a = handoff_store(shared_settings())
    b = PGHandoffStore(URL, prefix="tbunit")
    assert isinstance(a, PGHandoffStore)
    ticket, made = a.enqueue("citizen1", "socketio")
    assert made and b.enqueue("citizen1", "socketio") == (ticket, False)
    second, _ = b.enqueue("citizen2", "wechat")
    assert a.position(second.id) == 1
    assert b.take(ticket.id, "wang").agent == "wang"
    with pytest.raises(HandoffError):
        a.take(ticket.id, "li")
    msg = StoredMessage(
        0, ticket.id, "mid-1", "page-1", "agent", "wang", "sealed", "您好", 1.0, False
    )
    stored, new = a.add_message(msg)
    assert new and b.add_message(msg) == (stored, False)
    b.mark_delivered("mid-1")
    assert a.messages(ticket.id)[0].delivered
    callback = a.add_callback("rest", "sealed", "138****0000")
    assert b.finish_callback(callback.id, "wang").state == "done"
    assert a.end(ticket.id, "wang", "returned", None).state == "returned"
    assert b.open_ticket("citizen1") is None
