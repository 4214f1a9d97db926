"""Sealed values the conversation keeps about a case lookup, so its tracker never holds them plain.

Rasa persists every slot in the tracker store. The case form's two slots therefore hold values
sealed with Keys.seal (encrypted and authenticated, bound to the sender), and a successful lookup
leaves a sealed "verified" token, bound to the sender and to the conversation session, that lets
"查看办理记录" show the history without a second verification for VERIFIED_SECONDS.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from tongban.security.keys import Keys

FORM_PURPOSE = "case_form"
VERIFIED_PURPOSE = "case_verified"

FORM_SECONDS = 1800
"""A case number or last 4 typed into the form is usable for 30 minutes (the form may take two
messages, and the slots outlive an abandoned form)."""

VERIFIED_SECONDS = 900
"""After a successful lookup the history ("查看办理记录") can be shown for 15 minutes, to the
same sender in the same session only; a new session (/session_start, or after expiry) or
/restart ends it sooner."""


class CaseTokens:
    def __init__(self, keys: Keys, clock: Callable[[], float] = time.time):
        self.keys, self.clock = keys, clock

    def _open(self, purpose: str, token: object, seconds: int, sender: str) -> dict | None:
        """The payload of a token sealed for `purpose` and `sender` in the last `seconds`."""
        payload = self.keys.unseal(purpose, token, ttl=seconds)
        at = payload.get("at") if payload else None
        fresh = isinstance(at, (int, float)) and 0 <= self.clock() - at <= seconds
        return payload if fresh and payload.get("sender") == sender else None

    # -- the form's slots ------------------------------------------------------------------------

    def seal_form_value(self, slot: str, value: str, sender: str) -> str:
        return self.keys.seal(
            FORM_PURPOSE, {"slot": slot, "value": value, "sender": sender, "at": self.clock()}
        )

    def form_value(self, slot: str, token: object, sender: str) -> str | None:
        """The value sealed into `slot` for `sender` in the last FORM_SECONDS, else None."""
        payload = self._open(FORM_PURPOSE, token, FORM_SECONDS, sender)
        if payload is None or payload.get("slot") != slot:
            return None
        value = payload.get("value")
        return value if isinstance(value, str) else None

    # -- the verified case ------------------------------------------------------------------------

    def seal_verified(self, case_id: str, sender: str, session: float) -> str:
        return self.keys.seal(
            VERIFIED_PURPOSE,
            {"case": case_id, "sender": sender, "session": session, "at": self.clock()},
        )

    def verified_case(self, token: object, sender: str, session: float) -> str | None:
        """The case `sender` verified in this session in the last VERIFIED_SECONDS, else None."""
        payload = self._open(VERIFIED_PURPOSE, token, VERIFIED_SECONDS, sender)
        if payload is None or payload.get("session") != session:
            return None
        case = payload.get("case")
        return case if isinstance(case, str) else None
