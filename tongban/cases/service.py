"""Case lookups with verification, per-sender lockout and a global cap against enumeration.

A missing case and a wrong verification produce the same outcome, so neither can be probed.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from tongban.cases.http_store import HttpCaseStore
from tongban.cases.model import CaseRecord, mask_case_id, normalise_case_id, normalise_last4
from tongban.cases.store import CaseStore, CaseStoreError, SQLiteCaseStore

log = logging.getLogger(__name__)

MAX_FAILURES, LOCKOUT_SECONDS = 5, 3600
GLOBAL_MAX_FAILURES, GLOBAL_WINDOW_SECONDS = 200, 600
VERIFIED_SECONDS = 900  # how long "查看办理记录" works after a successful lookup
DEFAULT_DB = "var/cases.db"


class Outcome(str, Enum):
    FOUND = "found"
    NO_MATCH = "no_match"  # no such case, or the verification is wrong: deliberately the same
    LOCKED = "locked"  # this sender failed too often
    BUSY = "busy"  # too many failures across all senders
    INVALID_CASE = "invalid_case"
    INVALID_LAST4 = "invalid_last4"
    UNAVAILABLE = "unavailable"  # the backend is down


@dataclass(frozen=True)
class Lookup:
    outcome: Outcome
    record: CaseRecord | None = None
    retry_minutes: int = 0


def _scope(kind: str, sender: str) -> str:
    return f"{kind}:{hashlib.sha256(sender.encode()).hexdigest()[:32]}"


class CaseService:
    def __init__(
        self, store: CaseStore, guard_db: SQLiteCaseStore, clock: Callable[[], float] = time.time
    ):
        self.store, self.guard, self.clock = store, guard_db, clock

    @classmethod
    def from_env(cls, environ: dict | None = None) -> CaseService:
        """TONGBAN_CASES_BACKEND=sqlite (default) or http; see README for the other variables."""
        env = os.environ if environ is None else environ
        guard = SQLiteCaseStore(Path(env.get("TONGBAN_CASES_DB", DEFAULT_DB)))
        backend = env.get("TONGBAN_CASES_BACKEND", "sqlite").strip().lower()
        if backend == "sqlite":
            return cls(guard, guard)
        if backend == "http":
            store = HttpCaseStore(
                env.get("TONGBAN_CASES_URL", ""),
                token=env.get("TONGBAN_CASES_TOKEN") or None,
                timeout=float(env.get("TONGBAN_CASES_TIMEOUT", "3")),
                retries=int(env.get("TONGBAN_CASES_RETRIES", "2")),
            )
            return cls(store, guard)
        raise CaseStoreError(f"未知的办件后端“{backend}”：请设为 sqlite 或 http")

    def lookup(self, sender: str, case_text: str | None, last4_text: str | None) -> Lookup:
        now = self.clock()
        sender_scope = _scope("sender", sender)
        failures = self.guard.count_attempts(sender_scope, now - LOCKOUT_SECONDS)
        if failures >= MAX_FAILURES:
            oldest = self.guard.oldest_attempt(sender_scope, now - LOCKOUT_SECONDS) or now
            minutes = max(1, int((oldest + LOCKOUT_SECONDS - now) // 60) + 1)
            return Lookup(Outcome.LOCKED, retry_minutes=minutes)
        if self.guard.count_attempts("global", now - GLOBAL_WINDOW_SECONDS) >= GLOBAL_MAX_FAILURES:
            log.warning("case lookups paused: global failure cap reached")
            return Lookup(Outcome.BUSY, retry_minutes=GLOBAL_WINDOW_SECONDS // 60)
        case_id, last4 = normalise_case_id(case_text), normalise_last4(last4_text)
        if case_id is None:
            return Lookup(Outcome.INVALID_CASE)
        if last4 is None:
            return Lookup(Outcome.INVALID_LAST4)
        try:
            record = self.store.get(case_id)
        except CaseStoreError as exc:
            log.warning("case backend unavailable for %s: %s", mask_case_id(case_id), exc)
            return Lookup(Outcome.UNAVAILABLE)
        if record is None or not record.verifies(last4):
            self.guard.record_attempt(sender_scope, now)
            self.guard.record_attempt("global", now)
            log.info("case lookup failed for %s", mask_case_id(case_id))
            return Lookup(Outcome.NO_MATCH)
        self.guard.clear_attempts(sender_scope)
        self.guard.remember_verified(_scope("verified", sender), case_id, now)
        self.guard.prune_attempts(now - LOCKOUT_SECONDS)
        log.info("case lookup succeeded for %s", mask_case_id(case_id))
        return Lookup(Outcome.FOUND, record)

    def verified_record(self, sender: str) -> CaseRecord | None:
        """The case this sender verified in the last few minutes, for a history request."""
        case_id = self.guard.verified_case(
            _scope("verified", sender), self.clock() - VERIFIED_SECONDS
        )
        if case_id is None:
            return None
        try:
            return self.store.get(case_id)
        except CaseStoreError:
            return None
