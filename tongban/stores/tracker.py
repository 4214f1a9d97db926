"""Rasa's SQL tracker store, made safe: redacted at rest, and no database error ends the process.

Registered in endpoints.yml as `tongban.stores.tracker.RedactingSQLTrackerStore` with the same
options as Rasa's `type: SQL` (SQLite by default, PostgreSQL in the cluster profile).
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Generator
from typing import Any

import sqlalchemy
import sqlalchemy.orm
from rasa.core.tracker_store import SQLTrackerStore, create_engine_kwargs, ensure_schema_exists
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY
from sqlalchemy.exc import SQLAlchemyError

from tongban.security.conversation import redacted

log = logging.getLogger(__name__)


class TrackerStoreError(Exception):
    """The conversation could not be read or written; only this request fails."""


class RedactingSQLTrackerStore(SQLTrackerStore):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Rasa's engine hands out pooled connections unchecked: after a database restart each
        # stale one failed one message. Checked before use, a restart costs no message.
        url = self.engine.url
        self.engine.dispose()
        self.engine = sqlalchemy.create_engine(url, pool_pre_ping=True, **create_engine_kwargs(url))
        self.sessionmaker = sqlalchemy.orm.session.sessionmaker(bind=self.engine)

    @contextlib.contextmanager
    def session_scope(self) -> Generator[Any, None, None]:
        # Rasa's version turns every ValueError (a lone surrogate's UnicodeEncodeError included)
        # into print_error_and_exit, which stops the whole server.
        session = self.sessionmaker()
        try:
            ensure_schema_exists(session)
            yield session
        except (SQLAlchemyError, ValueError) as exc:
            with contextlib.suppress(SQLAlchemyError):
                session.rollback()
            log.error("tracker store error: %s", type(exc).__name__)
            raise TrackerStoreError(type(exc).__name__) from exc
        finally:
            session.close()

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Store the events not yet stored, each redacted (see tongban.security.conversation)."""
        await self.stream_events(tracker)
        with self.session_scope() as session:
            stored = self._event_query(
                session, tracker.sender_id, fetch_events_from_all_sessions=False
            ).count()
            events = list(tracker.events)
            safe = redacted((event.as_dict() for event in events), skip=stored)
            for event, data in zip(events[stored:], safe, strict=True):
                intent = (data.get("parse_data") or {}).get("intent", {}).get(INTENT_NAME_KEY)
                session.add(
                    self.SQLEvent(
                        sender_id=tracker.sender_id,
                        type_name=event.type_name,
                        timestamp=data.get("timestamp"),
                        intent_name=intent,
                        action_name=data.get("name"),
                        data=json.dumps(data),
                    )
                )
            session.commit()
