"""Server-wide protections that every Tongban channel installs on the Rasa app it joins.

- request bodies are capped before they are read (Sanic answers 413);
- a tracker-store failure fails that one request instead of falling back silently to memory
  (Rasa's FailSafeTrackerStore) or ending the process; channels answer it politely or with 503.

Idempotent: several channels may install them on the same app.
"""

from __future__ import annotations

import logging
from typing import Any

from sanic import Blueprint

from tongban.settings import MAX_BODY_BYTES

log = logging.getLogger(__name__)

UNAVAILABLE_REPLY = (
    "抱歉，系统暂时忙不过来，这条消息没有处理成功。请稍后再发一次，或拨打 12345 政务服务便民热线。"
)


# Said when the assistant processed a message but found nothing to say (a dialogue path without
# a reply): a citizen never gets silence. Each occurrence is logged, to be fixed at its cause.
NO_ANSWER_REPLY = (
    "抱歉，这句话我没能理解。您可以换个说法，例如“在深圳能领结婚证吗”，"
    "或拨打 12345 政务服务便民热线。"
)


# Said instead of an action's reply when the action server could not be reached, timed out or
# failed (tongban/nlu/rasa_fixes.py): unlike NO_ANSWER_REPLY, asking differently would not help.
ACTIONS_UNAVAILABLE_REPLY = (
    "抱歉，查询服务暂时不可用，这个问题现在没能为您解答。"
    "请稍后再试，或拨打 12345 政务服务便民热线。"
)


class ConversationUnavailable(Exception):
    """The conversation could not be read or saved; this message is not processed."""


def _raise_unavailable(error: Exception) -> None:
    log.error("tracker store failed: %s", type(error).__name__)
    raise ConversationUnavailable(type(error).__name__) from error


def _fail_requests_not_process(app: Any) -> None:
    agent = getattr(app.ctx, "agent", None)
    store = getattr(agent, "tracker_store", None)
    # FailSafeTrackerStore calls this on every primary-store error; raising here makes the
    # error reach the channel, which fails only this request.
    if store is not None and hasattr(store, "_on_tracker_store_error"):
        store._on_tracker_store_error = _raise_unavailable


def install(blueprint: Blueprint) -> None:
    @blueprint.listener("before_server_start")
    async def cap_request_size(app: Any, _loop: Any) -> None:
        app.config.REQUEST_MAX_SIZE = min(app.config.REQUEST_MAX_SIZE, MAX_BODY_BYTES)

    @blueprint.listener("after_server_start")
    async def tracker_failures_fail_requests(app: Any, _loop: Any) -> None:
        _fail_requests_not_process(app)
