"""Case lookups by hotline agents: the bot's verification, limits and redaction, plus the agent's own
rate limit and an audit entry for every lookup.

The caller gives the agent the case number and the last 4 characters of the ID or phone number;
`tongban.cases.CaseService` checks them exactly as for a citizen (the agent is the "sender", the
agent's address the client), so a wrong pair says the same whether or not the case exists and the
per-case lock protects the applicant from a guessing agent too. The reply is the bot's text
(tongban.cases.replies), with the name and number masked. The history needs the sealed token of a
lookup made by the same agent in the same console session in the last 15 minutes, as in the bot.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tongban.cases import replies
from tongban.cases.limits import Limit
from tongban.cases.model import mask_case_id, normalise_case_id
from tongban.cases.service import CaseService, Outcome
from tongban.console.auth import Auth, Who

AGENT_MINUTE = Limit("agent_minute", 6, 60)
"""At most 6 lookups a minute per agent, successful or not: faster than any caller on the line."""

AGENT_HOURLY = Limit("agent_hourly", 60, 3600)
"""At most 60 lookups an hour per agent: a busy shift, not a bulk export of the case database."""

AGENT_LIMITS = (AGENT_MINUTE, AGENT_HOURLY)


@dataclass(frozen=True)
class AgentLookup:
    status: int
    body: dict[str, Any]


def _sender(who: Who) -> str:
    return f"console-{who.name}"


class ConsoleCases:
    def __init__(self, service: CaseService, auth: Auth, clock: Callable[[], float] | None = None):
        self.service, self.auth, self.clock = service, auth, clock or auth.clock

    def _rate_limited(self, who: Who) -> int:
        now = self.clock()
        waits = [
            self.auth.wait_minutes(limit, self.auth.scope(limit.scope, who.name), now)
            for limit in AGENT_LIMITS
        ]
        return max(waits)

    def _count(self, who: Who) -> None:
        now = self.clock()
        for limit in AGENT_LIMITS:
            self.auth.stores.counters.record(self.auth.scope(limit.scope, who.name), now)

    def lookup(self, who: Who, case_text: Any, last4_text: Any, client: str) -> AgentLookup:
        case_text = case_text if isinstance(case_text, str) else ""
        last4_text = last4_text if isinstance(last4_text, str) else ""
        masked = mask_case_id(normalise_case_id(case_text) or "") if case_text else ""
        wait = self._rate_limited(who)
        if wait:
            self.auth.audit(who.name, "case_lookup", "agent_rate_limited", masked)
            return AgentLookup(
                429,
                {"ok": False, "outcome": "agent_rate_limited", "retry_minutes": wait,
                 "error": f"查询过于频繁，请 {wait} 分钟后再试。"},
            )  # fmt: skip
        self._count(who)
        result = self.service.lookup(_sender(who), case_text, last4_text, client=client)
        self.auth.audit(who.name, "case_lookup", result.outcome.value, masked)
        body: dict[str, Any] = {
            "ok": result.outcome is Outcome.FOUND,
            "outcome": result.outcome.value,
            "text": replies.outcome_text(result),
        }
        if result.outcome is Outcome.FOUND and result.record:
            body["case"] = mask_case_id(result.record.case_id)
            body["status"] = result.record.status
            body["token"] = self.service.verified_token(
                result.record, _sender(who), who.session.created
            )
        if result.retry_minutes:
            body["retry_minutes"] = result.retry_minutes
        return AgentLookup(200, body)

    def history(self, who: Who, token: Any) -> AgentLookup:
        record = self.service.verified_record(token, _sender(who), who.session.created)
        if record is None:
            self.auth.audit(who.name, "case_history", "refused")
            return AgentLookup(403, {"ok": False, "error": replies.NO_HISTORY})
        self.auth.audit(who.name, "case_history", "ok", mask_case_id(record.case_id))
        return AgentLookup(200, {"ok": True, "text": replies.history(record)})
