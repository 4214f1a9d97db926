"""The handoff store: the queue, who owns each conversation, agents' messages and callback
requests, behind one small interface (`HandoffStore`) with an SQLite version in var/.

Both processes use it: the action server queues a conversation and records callback requests, the
Rasa server (console and channels) takes, answers and ends them. SQLite in WAL mode is shared
safely by the two; a cluster would put a PostgreSQL version behind the same methods.
Nothing personal is stored readable: message texts and phone numbers are sealed by the service
(tongban.handoff.service), with a redacted or masked copy for display.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tongban.errors import TongbanError

QUEUED, ACTIVE, RETURNED, CLOSED = "queued", "active", "returned", "closed"
OPEN_STATES = (QUEUED, ACTIVE)


class HandoffError(TongbanError):
    """A handoff operation that cannot be done as asked (the message is fit for the agent)."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Ticket:
    id: int
    sender: str  # the conversation's sender id: never shown to agents
    channel: str  # "socketio", "wechat", "rest" ...
    state: str
    agent: str | None
    note: str | None  # redacted
    created: float
    taken: float | None
    ended: float | None


@dataclass(frozen=True)
class StoredMessage:
    id: int  # order within the store
    ticket: int
    message_id: str  # the id the citizen's channel shows (stable across replays)
    client_id: str | None  # the agent page's id for this send: a repeat is not sent twice
    kind: str  # "agent", or a status: "joined", "returned", "closed"
    agent: str | None
    sealed: str  # the text as sent, sealed
    shown: str  # the text redacted, for the console
    created: float
    delivered: bool


@dataclass(frozen=True)
class Callback:
    id: int
    channel: str
    sealed: str  # {"phone", "sender"} sealed
    masked: str  # 138****8000
    created: float
    state: str  # "open" or "done"
    agent: str | None


class HandoffStore:
    """What the handoff needs to keep. Every method is synchronous and atomic."""

    def open_ticket(self, sender: str) -> Ticket | None:
        """The sender's queued or active ticket, if any."""
        raise NotImplementedError

    def enqueue(self, sender: str, channel: str) -> tuple[Ticket, bool]:
        """The sender's open ticket, made (queued) if there is none; True if made now."""
        raise NotImplementedError

    def position(self, ticket_id: int) -> int:
        """How many queued tickets are ahead of this one (0 for the next)."""
        raise NotImplementedError

    def ticket(self, ticket_id: int) -> Ticket | None:
        raise NotImplementedError

    def tickets(self, states: tuple[str, ...], limit: int = 200) -> list[Ticket]:
        """Tickets in these states, oldest first."""
        raise NotImplementedError

    def take(self, ticket_id: int, agent: str) -> Ticket:
        """queued -> active for `agent`; HandoffError if someone else was first or it ended."""
        raise NotImplementedError

    def end(self, ticket_id: int, agent: str, state: str, note: str | None) -> Ticket:
        """active -> returned/closed (or a queued ticket closed); HandoffError otherwise."""
        raise NotImplementedError

    def add_message(self, message: StoredMessage) -> tuple[StoredMessage, bool]:
        """Store a message (its id is assigned); a repeat of (ticket, client_id) returns the
        first one and False."""
        raise NotImplementedError

    def mark_delivered(self, message_id: str) -> None:
        raise NotImplementedError

    def messages(self, ticket_id: int, after: int = 0) -> list[StoredMessage]:
        raise NotImplementedError

    def sender_messages(self, sender: str, since: float) -> list[StoredMessage]:
        """Every message to `sender` since `since`, in order (for a reconnecting widget)."""
        raise NotImplementedError

    def add_callback(self, channel: str, sealed: str, masked: str) -> Callback:
        raise NotImplementedError

    def callbacks(self, state: str = "open", limit: int = 200) -> list[Callback]:
        raise NotImplementedError

    def callback(self, callback_id: int) -> Callback | None:
        raise NotImplementedError

    def finish_callback(self, callback_id: int, agent: str) -> Callback:
        raise NotImplementedError


_SCHEMA = """
CREATE TABLE IF NOT EXISTS tickets (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  sender TEXT NOT NULL,
  channel TEXT NOT NULL,
  state TEXT NOT NULL,
  agent TEXT,
  note TEXT,
  created REAL NOT NULL,
  taken REAL,
  ended REAL
);
CREATE UNIQUE INDEX IF NOT EXISTS tickets_one_open ON tickets(sender)
  WHERE state IN ('queued', 'active');
CREATE INDEX IF NOT EXISTS tickets_state ON tickets(state, created);
CREATE TABLE IF NOT EXISTS messages (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  ticket INTEGER NOT NULL REFERENCES tickets(id),
  message_id TEXT NOT NULL UNIQUE,
  client_id TEXT,
  kind TEXT NOT NULL,
  agent TEXT,
  sealed TEXT NOT NULL,
  shown TEXT NOT NULL,
  created REAL NOT NULL,
  delivered INTEGER NOT NULL DEFAULT 0,
  UNIQUE (ticket, client_id)
);
CREATE TABLE IF NOT EXISTS callbacks (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  channel TEXT NOT NULL,
  sealed TEXT NOT NULL,
  masked TEXT NOT NULL,
  created REAL NOT NULL,
  state TEXT NOT NULL DEFAULT 'open',
  agent TEXT,
  done REAL
);
"""

_TICKET = "id, sender, channel, state, agent, note, created, taken, ended"
_MESSAGE = "id, ticket, message_id, client_id, kind, agent, sealed, shown, created, delivered"
_CALLBACK = "id, channel, sealed, masked, created, state, agent"


def _ticket(row: tuple) -> Ticket:
    return Ticket(*row)


def _message(row: tuple) -> StoredMessage:
    return StoredMessage(*row[:9], delivered=bool(row[9]))


def _callback(row: tuple) -> Callback:
    return Callback(*row)


class SQLiteHandoffStore(HandoffStore):
    def __init__(self, path: str | Path, clock: Callable[[], float] = time.time) -> None:
        self.path = str(path)
        self.clock = clock
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, timeout=10, check_same_thread=False)
        self._db.execute("PRAGMA busy_timeout = 10000")
        if self.path != ":memory:":
            self._db.execute("PRAGMA journal_mode = WAL")
        self._db.executescript(_SCHEMA)
        self._db.commit()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE: the other process waits, never interleaves)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.rollback()
                raise
            self._db.commit()

    def _read(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- tickets ---------------------------------------------------------------------------

    def open_ticket(self, sender: str) -> Ticket | None:
        rows = self._read(
            f"SELECT {_TICKET} FROM tickets WHERE sender = ? AND state IN (?, ?)",
            (sender, *OPEN_STATES),
        )
        return _ticket(rows[0]) if rows else None

    def enqueue(self, sender: str, channel: str) -> tuple[Ticket, bool]:
        with self._tx() as db:
            row = db.execute(
                f"SELECT {_TICKET} FROM tickets WHERE sender = ? AND state IN (?, ?)",
                (sender, *OPEN_STATES),
            ).fetchone()
            if row:
                return _ticket(row), False
            cursor = db.execute(
                "INSERT INTO tickets (sender, channel, state, created) VALUES (?, ?, ?, ?)",
                (sender, channel, QUEUED, self.clock()),
            )
            row = db.execute(
                f"SELECT {_TICKET} FROM tickets WHERE id = ?", (cursor.lastrowid,)
            ).fetchone()
            return _ticket(row), True

    def position(self, ticket_id: int) -> int:
        rows = self._read(
            "SELECT COUNT(*) FROM tickets WHERE state = ? AND id < ?", (QUEUED, ticket_id)
        )
        return int(rows[0][0])

    def ticket(self, ticket_id: int) -> Ticket | None:
        rows = self._read(f"SELECT {_TICKET} FROM tickets WHERE id = ?", (ticket_id,))
        return _ticket(rows[0]) if rows else None

    def tickets(self, states: tuple[str, ...], limit: int = 200) -> list[Ticket]:
        marks = ",".join("?" * len(states))
        rows = self._read(
            f"SELECT {_TICKET} FROM tickets WHERE state IN ({marks}) ORDER BY id LIMIT ?",
            (*states, limit),
        )
        return [_ticket(row) for row in rows]

    def take(self, ticket_id: int, agent: str) -> Ticket:
        with self._tx() as db:
            changed = db.execute(
                "UPDATE tickets SET state = ?, agent = ?, taken = ? WHERE id = ? AND state = ?",
                (ACTIVE, agent, self.clock(), ticket_id, QUEUED),
            ).rowcount
            row = db.execute(f"SELECT {_TICKET} FROM tickets WHERE id = ?", (ticket_id,)).fetchone()
        if row is None:
            raise HandoffError("没有这个会话", status=404)
        ticket = _ticket(row)
        if not changed and not (ticket.state == ACTIVE and ticket.agent == agent):
            raise HandoffError("这个会话已由其他坐席接入或已结束")
        return ticket

    def end(self, ticket_id: int, agent: str, state: str, note: str | None) -> Ticket:
        with self._tx() as db:
            changed = db.execute(
                "UPDATE tickets SET state = ?, note = ?, ended = ?, agent = COALESCE(agent, ?) "
                "WHERE id = ? AND ((state = ? AND agent = ?) OR state = ?)",
                (state, note, self.clock(), agent, ticket_id, ACTIVE, agent, QUEUED),
            ).rowcount
            row = db.execute(f"SELECT {_TICKET} FROM tickets WHERE id = ?", (ticket_id,)).fetchone()
        if row is None:
            raise HandoffError("没有这个会话", status=404)
        if not changed:
            raise HandoffError("这个会话不由您接待，或已经结束")
        return _ticket(row)

    # -- messages --------------------------------------------------------------------------

    def add_message(self, message: StoredMessage) -> tuple[StoredMessage, bool]:
        with self._tx() as db:
            if message.client_id:
                row = db.execute(
                    f"SELECT {_MESSAGE} FROM messages WHERE ticket = ? AND client_id = ?",
                    (message.ticket, message.client_id),
                ).fetchone()
                if row:
                    return _message(row), False
            cursor = db.execute(
                "INSERT INTO messages (ticket, message_id, client_id, kind, agent, sealed, shown,"
                " created, delivered) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    message.ticket,
                    message.message_id,
                    message.client_id,
                    message.kind,
                    message.agent,
                    message.sealed,
                    message.shown,
                    message.created,
                    int(message.delivered),
                ),
            )
            row = db.execute(
                f"SELECT {_MESSAGE} FROM messages WHERE id = ?", (cursor.lastrowid,)
            ).fetchone()
            return _message(row), True

    def mark_delivered(self, message_id: str) -> None:
        with self._tx() as db:
            db.execute("UPDATE messages SET delivered = 1 WHERE message_id = ?", (message_id,))

    def messages(self, ticket_id: int, after: int = 0) -> list[StoredMessage]:
        rows = self._read(
            f"SELECT {_MESSAGE} FROM messages WHERE ticket = ? AND id > ? ORDER BY id LIMIT 500",
            (ticket_id, after),
        )
        return [_message(row) for row in rows]

    def sender_messages(self, sender: str, since: float) -> list[StoredMessage]:
        rows = self._read(
            f"SELECT {', '.join('m.' + c.strip() for c in _MESSAGE.split(','))} FROM messages m "
            "JOIN tickets t ON t.id = m.ticket WHERE t.sender = ? AND m.created >= ? "
            "ORDER BY m.id LIMIT 500",
            (sender, since),
        )
        return [_message(row) for row in rows]

    # -- callbacks -------------------------------------------------------------------------

    def add_callback(self, channel: str, sealed: str, masked: str) -> Callback:
        with self._tx() as db:
            cursor = db.execute(
                "INSERT INTO callbacks (channel, sealed, masked, created) VALUES (?, ?, ?, ?)",
                (channel, sealed, masked, self.clock()),
            )
            row = db.execute(
                f"SELECT {_CALLBACK} FROM callbacks WHERE id = ?", (cursor.lastrowid,)
            ).fetchone()
        return _callback(row)

    def callbacks(self, state: str = "open", limit: int = 200) -> list[Callback]:
        rows = self._read(
            f"SELECT {_CALLBACK} FROM callbacks WHERE state = ? ORDER BY id LIMIT ?",
            (state, limit),
        )
        return [_callback(row) for row in rows]

    def callback(self, callback_id: int) -> Callback | None:
        rows = self._read(f"SELECT {_CALLBACK} FROM callbacks WHERE id = ?", (callback_id,))
        return _callback(rows[0]) if rows else None

    def finish_callback(self, callback_id: int, agent: str) -> Callback:
        with self._tx() as db:
            changed = db.execute(
                "UPDATE callbacks SET state = 'done', agent = ?, done = ? "
                "WHERE id = ? AND state = 'open'",
                (agent, self.clock(), callback_id),
            ).rowcount
            row = db.execute(
                f"SELECT {_CALLBACK} FROM callbacks WHERE id = ?", (callback_id,)
            ).fetchone()
        if row is None:
            raise HandoffError("没有这条回电请求", status=404)
        if not changed:
            raise HandoffError("这条回电请求已经处理过了")
        return _callback(row)
