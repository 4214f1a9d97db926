"""Human handoff (人工服务): a citizen on the widget or WeChat asks for a person, joins a queue
(or leaves a phone number outside service hours), an agent in the console takes the
conversation, answers through the citizen's own channel while the bot is paused, then hands back.

`hub()` is the process's one HandoffService, built from settings on first use: the action server
queues and records callbacks through it; in the Rasa server the channels register their delivery
and the console drives it.
"""

from __future__ import annotations

from functools import cache

from tongban.handoff.hours import ServiceHours
from tongban.handoff.pg_store import handoff_store
from tongban.handoff.service import Deliveries, HandoffService, Offer
from tongban.handoff.store import HandoffError
from tongban.security.keys import Keys
from tongban.settings import settings

__all__ = ["HandoffError", "HandoffService", "Offer", "hub"]


@cache
def hub() -> HandoffService:
    config = settings()
    return HandoffService(
        handoff_store(config),  # SQLite, or PostgreSQL by settings (pg_store.py)
        ServiceHours.parse(config.handoff_hours, config.handoff_timezone),
        Keys(config.secret_key),
        Deliveries(),
    )
