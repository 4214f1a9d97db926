"""Baseline: the tables of the shared case store, feedback, answer log, handoff queue and console.

Revision ID: 0001
Revises:
Create Date: 2026-12-02

The same tables, columns and indexes as the per-component SQL step lists that Tongban kept
before Alembic (each component at its version 1). A database built by that mechanism upgrades
cleanly: every statement here says IF NOT EXISTS, so its tables and rows stay as they are and
only the tables of components it never used are created; then the legacy table
`<prefix>_schema_migrations` is dropped, and `<prefix>_alembic_version` says 0001 from now on.
Stop instances of the older Tongban before upgrading: one started afterwards would find no
`<prefix>_schema_migrations` and fail creating tables that already exist (no data is lost).

The handoff tables (tickets, messages, callbacks) and the console's (staff, sessions, audit)
have no prefix, as before: every prefix in one database shares them, so nothing here drops them
and this revision has no downgrade.
"""

from __future__ import annotations

from alembic import op

from tongban.migrations import prefix

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

CASES = """
CREATE TABLE IF NOT EXISTS {p}_cases (
    case_key TEXT PRIMARY KEY, case_masked TEXT NOT NULL, item TEXT NOT NULL,
    applicant_masked TEXT NOT NULL, id_last4_hash TEXT NOT NULL, phone_last4_hash TEXT NOT NULL,
    region TEXT NOT NULL, status TEXT NOT NULL, status_note TEXT NOT NULL DEFAULT '',
    accepted_at TEXT NOT NULL, due_at TEXT NOT NULL DEFAULT '', updated_at TEXT NOT NULL,
    history TEXT NOT NULL DEFAULT '[]');
CREATE TABLE IF NOT EXISTS {p}_cases_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)
"""

FEEDBACK = """
CREATE TABLE IF NOT EXISTS {p}_feedback (
    id BIGSERIAL PRIMARY KEY, session_id TEXT NOT NULL, message_id TEXT NOT NULL,
    rating TEXT NOT NULL CHECK (rating IN ('up', 'down')), reason TEXT,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL, UNIQUE (session_id, message_id))
"""

ANSWERS = """
CREATE TABLE IF NOT EXISTS {p}_answers (
    session_id TEXT NOT NULL, message_id TEXT NOT NULL, item TEXT, kind TEXT, lead TEXT NOT NULL,
    at DOUBLE PRECISION NOT NULL, PRIMARY KEY (session_id, message_id));
CREATE INDEX IF NOT EXISTS {p}_answers_at ON {p}_answers (at)
"""

HANDOFF = """
CREATE TABLE IF NOT EXISTS tickets (
    id BIGSERIAL PRIMARY KEY, sender TEXT NOT NULL, channel TEXT NOT NULL, state TEXT NOT NULL,
    agent TEXT, note TEXT, created DOUBLE PRECISION NOT NULL, taken DOUBLE PRECISION,
    ended DOUBLE PRECISION);
CREATE UNIQUE INDEX IF NOT EXISTS tickets_one_open ON tickets(sender)
    WHERE state IN ('queued', 'active');
CREATE INDEX IF NOT EXISTS tickets_state ON tickets(state, created);
CREATE TABLE IF NOT EXISTS messages (
    id BIGSERIAL PRIMARY KEY, ticket BIGINT NOT NULL REFERENCES tickets(id),
    message_id TEXT NOT NULL UNIQUE, client_id TEXT, kind TEXT NOT NULL, agent TEXT,
    sealed TEXT NOT NULL, shown TEXT NOT NULL, created DOUBLE PRECISION NOT NULL,
    delivered INTEGER NOT NULL DEFAULT 0, UNIQUE (ticket, client_id));
CREATE TABLE IF NOT EXISTS callbacks (
    id BIGSERIAL PRIMARY KEY, channel TEXT NOT NULL, sealed TEXT NOT NULL, masked TEXT NOT NULL,
    created DOUBLE PRECISION NOT NULL, state TEXT NOT NULL DEFAULT 'open', agent TEXT,
    done DOUBLE PRECISION)
"""

CONSOLE = """
CREATE TABLE IF NOT EXISTS staff (
    name TEXT PRIMARY KEY, role TEXT NOT NULL, password_hash TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 1);
CREATE TABLE IF NOT EXISTS sessions (
    key TEXT PRIMARY KEY, staff TEXT NOT NULL, csrf TEXT NOT NULL,
    created DOUBLE PRECISION NOT NULL, last_seen DOUBLE PRECISION NOT NULL, client TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS sessions_staff ON sessions (staff);
CREATE TABLE IF NOT EXISTS audit (
    id BIGSERIAL PRIMARY KEY, at DOUBLE PRECISION NOT NULL, agent TEXT NOT NULL,
    action TEXT NOT NULL, "case" TEXT NOT NULL, result TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS audit_at ON audit (at)
"""


def upgrade() -> None:
    p = prefix()
    for script in (CASES, FEEDBACK, ANSWERS, HANDOFF, CONSOLE):
        for statement in script.format(p=p).split(";"):
            if statement.strip():
                op.execute(statement)
    op.execute(f"DROP TABLE IF EXISTS {p}_schema_migrations")


def downgrade() -> None:
    raise NotImplementedError("0001 is the baseline: drop the tables by hand if you must")
