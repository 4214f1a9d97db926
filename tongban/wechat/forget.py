"""Forgetting a user who unfollowed: their conversation is deleted from the tracker store.

Tencent's rule for `unsubscribe` is to delete the user's information. The conversation holds
everything Tongban keeps about a sender, including the case-verification data (the sealed case
number and last 4 of an unfinished lookup, the verified-case token); the channel also drops the
user's numbered options and quota. Rasa 3.6's tracker stores have no delete, so each kind this
project can run on is handled here. The failure counters of case lookups are keyed hashes kept
for abuse limits and are not cleared: unfollowing must not reset a guesser's limits.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)


def _unwrap(store: Any) -> Any:
    """Rasa wraps the configured store (FailSafeTrackerStore, AwaitableTrackerStore)."""
    seen = 0
    while hasattr(store, "_tracker_store") and seen < 5:
        store = store._tracker_store
        seen += 1
    return store


def forget_conversation(tracker_store: Any, sender_id: str) -> bool:
    """Delete every stored event of `sender_id`; True if the store's kind is known."""
    from rasa.core.tracker_store import InMemoryTrackerStore, RedisTrackerStore, SQLTrackerStore

    store = _unwrap(tracker_store)
    if store is None:
        return False
    if isinstance(store, InMemoryTrackerStore):
        store.store.pop(sender_id, None)
        return True
    if isinstance(store, SQLTrackerStore):
        with store.session_scope() as session:
            session.query(store.SQLEvent).filter(store.SQLEvent.sender_id == sender_id).delete(
                synchronize_session=False
            )
            session.commit()
        return True
    if isinstance(store, RedisTrackerStore):
        store.red.delete(store.key_prefix + sender_id)
        return True
    log.error("unsubscribe: cannot delete conversations in %s", type(store).__name__)
    return False
