"""Case lookups with verification, limits on failed verifications, and the verified history.

A missing case and a wrong verification produce the same outcome, so neither can be probed. The
limits (per case number, per sender, per client address, and an alarm across everything) are
described in tongban/cases/limits.py; the sealed slot values and the verified token in
tongban/cases/tokens.py.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from tongban.cases import limits
from tongban.cases.http_store import HttpCaseStore
from tongban.cases.limits import FailureCounter, Limit
from tongban.cases.model import CaseRecord, mask_case_id, normalise_case_id, normalise_last4
from tongban.cases.store import CaseStore, CaseStoreError, SQLCaseStore, SQLiteCaseStore
from tongban.cases.tokens import CaseTokens
from tongban.security.keys import Keys
from tongban.settings import Settings, settings
from tongban.stores.shared import BackendError, create, need

log = logging.getLogger(__name__)

DEFAULT_DB = "var/cases.db"
_SCOPE_PURPOSE = "case_failures"
_PRUNE_SECONDS = 60


class Outcome(str, Enum):
    FOUND = "found"
    NO_MATCH = "no_match"  # no such case, or the verification is wrong: deliberately the same
    LOCKED = "locked"  # this sender, or this client address, failed too often
    CASE_LOCKED = "case_locked"  # this case number failed too often, whoever asked
    INVALID_CASE = "invalid_case"
    INVALID_LAST4 = "invalid_last4"
    UNAVAILABLE = "unavailable"  # the backend is down


@dataclass(frozen=True)
class Lookup:
    outcome: Outcome
    record: CaseRecord | None = None
    retry_minutes: int = 0


class CaseService:
    def __init__(
        self,
        store: CaseStore,
        counter: FailureCounter,
        clock: Callable[[], float] = time.time,
        keys: Keys | None = None,
    ):
        self.store, self.counter, self.clock = store, counter, clock
        self.keys = keys or Keys.default()
        self.tokens = CaseTokens(self.keys, clock)
        self._last_alarm = float("-inf")
        self._last_prune = float("-inf")
        self._everything = self._scope(limits.ALARM.scope, "")

    @classmethod
    def from_env(cls, environ: dict | None = None, keys: Keys | None = None) -> CaseService:
        """The case store and failure counters named by the settings (tongban/settings.py):
        TONGBAN_CASES_BACKEND=sqlite (default), http or sql (PostgreSQL at TONGBAN_DATABASE_URL);
        TONGBAN_COUNTER_BACKEND=sqlite (default, in TONGBAN_CASES_DB) or redis."""
        config = settings() if environ is None else Settings.from_env(environ)
        temporary = keys is None and settings().ephemeral_secret
        keys = keys or Keys(settings().secret_key)
        backends = {
            "sqlite": lambda s: SQLiteCaseStore(Path(s.cases_db), keys, temporary_key=temporary),
            "http": lambda s: HttpCaseStore(
                s.cases_url, token=s.cases_token, timeout=s.cases_timeout, retries=s.cases_retries
            ),
            "sql": lambda s: SQLCaseStore(
                need(s.database_url, "database_url"), keys, temporary, s.key_prefix
            ),
        }
        try:
            store: CaseStore = create("cases_backend", config.cases_backend, backends, config)
        except BackendError as exc:
            raise CaseStoreError(f"未知的办件后端：请设为 sqlite、http 或 sql（{exc}）") from exc
        return cls(store, limits.counter_from_settings(config), keys=keys)

    # -- limits --------------------------------------------------------------------------------

    def _scope(self, kind: str, value: str) -> str:
        return self.keys.digest(_SCOPE_PURPOSE, f"{kind}:{value}")

    def _wait_minutes(self, limit: Limit, scope: str, now: float) -> int:
        """0 when `scope` is within `limit`, else the minutes until its oldest failure expires."""
        since = now - limit.seconds
        if self.counter.count(scope, since) < limit.failures:
            return 0
        oldest = self.counter.oldest(scope, since) or now
        return max(1, int((oldest + limit.seconds - now) // 60) + 1)

    def _locked(self, limits_and_scopes: list[tuple[Limit, str]], now: float) -> int:
        return max(
            (self._wait_minutes(lim, scope, now) for lim, scope in limits_and_scopes), default=0
        )

    def _failed(self, scopes: list[str], now: float) -> None:
        """Count one failure in every scope (case, sender, client, everything), prune now and then,
        and raise the alarm when everything together is over its limit."""
        for scope in scopes:
            self.counter.record(scope, now)
        if now - self._last_prune >= _PRUNE_SECONDS:
            self.counter.prune(now - limits.KEEP_SECONDS)
            self._last_prune = now
        alarm = limits.ALARM
        failures = self.counter.count(self._everything, now - alarm.seconds)
        if failures > alarm.failures and now - self._last_alarm >= limits.ALARM_REPEAT_SECONDS:
            self._last_alarm = now
            log.warning(
                "case lookups: %d failed verifications in the last %d minutes across all users "
                "(limit %d): possible enumeration; nobody is locked out by this",
                failures, alarm.seconds // 60, alarm.failures,
            )  # fmt: skip

    # -- lookups -------------------------------------------------------------------------------

    def lookup(
        self,
        sender: str,
        case_text: str | None,
        last4_text: str | None,
        client: str | None = None,
    ) -> Lookup:
        """`_lookup`, refused as unavailable when the shared failure counters cannot be reached
        (never run without its limits)."""
        try:
            return self._lookup(sender, case_text, last4_text, client)
        except limits.CounterUnavailable as exc:
            log.warning("case lookups refused: failure counters unavailable (%s)", exc)
            return Lookup(Outcome.UNAVAILABLE)

    def _lookup(
        self,
        sender: str,
        case_text: str | None,
        last4_text: str | None,
        client: str | None = None,
    ) -> Lookup:
        """Verify and return a case. `client` is the keyed hash of the client address from the
        message metadata; without it (CLI, tests) there is no per-address limit."""
        now = self.clock()
        who = [(limits.SENDER_HOURLY, self._scope("sender", sender))]
        if client:
            who.append((limits.CLIENT_HOURLY, self._scope("client", str(client))))
        minutes = self._locked(who, now)
        if minutes:
            return Lookup(Outcome.LOCKED, retry_minutes=minutes)
        case_id, last4 = normalise_case_id(case_text), normalise_last4(last4_text)
        if case_id is None:
            return Lookup(Outcome.INVALID_CASE)
        if last4 is None:
            return Lookup(Outcome.INVALID_LAST4)
        case_scope = self._scope("case", case_id)
        minutes = self._locked(
            [(limits.CASE_HOURLY, case_scope), (limits.CASE_DAILY, case_scope)], now
        )
        if minutes:
            log.info("case lookup refused for %s: too many failures", mask_case_id(case_id))
            return Lookup(Outcome.CASE_LOCKED, retry_minutes=minutes)
        try:
            record = self.store.match(case_id, last4)
        except CaseStoreError as exc:
            log.warning("case backend unavailable for %s: %s", mask_case_id(case_id), exc)
            return Lookup(Outcome.UNAVAILABLE)
        if record is None:
            self._failed([case_scope, *(scope for _, scope in who), self._everything], now)
            log.info("case lookup failed for %s", mask_case_id(case_id))
            return Lookup(Outcome.NO_MATCH)
        # A success clears no counter (see limits.py).
        log.info("case lookup succeeded for %s", mask_case_id(case_id))
        return Lookup(Outcome.FOUND, record)

    # -- the verified history ------------------------------------------------------------------

    def verified_token(self, record: CaseRecord, sender: str, session: float) -> str:
        """What the conversation keeps after a successful lookup (a sealed slot value)."""
        return self.tokens.seal_verified(record.case_id, sender, session)

    def verified_record(self, token: object, sender: str, session: float) -> CaseRecord | None:
        """The case this sender verified in this session in the last 15 minutes, or None."""
        case_id = self.tokens.verified_case(token, sender, session)
        if case_id is None:
            return None
        try:
            return self.store.get(case_id)
        except CaseStoreError as exc:
            log.warning("case backend unavailable for %s: %s", mask_case_id(case_id), exc)
            return None
