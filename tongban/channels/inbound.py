"""What every channel checks before a message reaches Rasa: body, sender id, text and metadata.

Bad input raises `BadRequest` with a short bilingual reason, answered as a 4xx; nothing invalid is
ever stored. One sender-id pattern and one set of bounds for all channels.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import unicodedata
from typing import Any

from tongban.errors import TongbanError
from tongban.settings import MAX_BODY_BYTES, MAX_MESSAGE_CHARS

SENDER_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
# Server-made session ids (socket.io) are random and long enough to be bearer secrets.
SESSION_ID = re.compile(r"[A-Za-z0-9_-]{32,64}")
CLIENT_MESSAGE_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")
# Control characters other than tab and newline, and invisible zero-width characters (lone
# surrogates are refused separately).
_INVISIBLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2060-\u2064\ufeff]")
# Rasa reads "/intent{json}" as a forced intent that skips the NLU. Citizens' buttons send only
# these; any other "/..." text is read as ordinary words (without the slash).
TYPED_INTENTS = frozenset(
    {"greet", "inform", "case_status", "case_history", "restart", "affirm", "deny",
     "goodbye", "thanks", "human_handoff"}
)  # fmt: skip
TYPED_ENTITIES = frozenset({"item", "place", "date"})
_TYPED = re.compile(r"/([a-z_]+)(\{.*\})?", re.DOTALL)
MAX_DEPTH = 16

TOO_LONG_REPLY = (
    f"您的消息有点长（超过 {MAX_MESSAGE_CHARS} 个字），我一次读不完。"
    "请用一两句话说明要办的业务、户籍地和所在地，例如：“我是江西人，在深圳打工，能领结婚证吗？”"
)


class BadRequest(TongbanError):
    """A request refused with a 4xx; the message names what is wrong (Chinese first)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


def _depth(value: Any, limit: int = MAX_DEPTH) -> int:
    """Nesting depth, stopping early past `limit` (iterative: no recursion on hostile input)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, level)
            if deepest > limit:
                return deepest
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, level + 1) for child in children)
    return deepest


def parse_json_object(body: bytes | None, max_bytes: int = MAX_BODY_BYTES) -> dict[str, Any]:
    """The JSON object in a request body: UTF-8, at most `max_bytes`, no NaN or Infinity."""
    if not body:
        raise BadRequest("请求内容为空 / empty body")
    if len(body) > max_bytes:
        raise BadRequest("请求内容过长 / body too large", status=413)
    try:
        data = json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BadRequest("请求内容不是有效的 JSON / body is not valid JSON") from None
    if not isinstance(data, dict):
        raise BadRequest("请求内容必须是 JSON 对象 / body must be a JSON object")
    if _depth(data) > MAX_DEPTH:
        raise BadRequest("请求内容嵌套过深 / body is nested too deeply")
    return data


def _valid_unicode(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates
        return False
    return True


def clean_sender(value: Any, pattern: re.Pattern[str] = SENDER_ID) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise BadRequest(
            "sender 必须是 1 到 64 个字母、数字、- 或 _ / "
            "sender must be 1-64 letters, digits, '-' or '_'"
        )
    return value


def _allowed_typed_intent(text: str) -> bool:
    match = _TYPED.fullmatch(text)
    if not match or match.group(1) not in TYPED_INTENTS:
        return False
    if not match.group(2):
        return True
    try:
        entities = json.loads(match.group(2))
    except ValueError:
        return False
    return isinstance(entities, dict) and all(
        key in TYPED_ENTITIES and isinstance(value, str) and 0 < len(value) <= 64
        for key, value in entities.items()
    )


def clean_text(value: Any) -> str:
    """Valid Unicode, NFC-normalised, control and zero-width characters removed, not empty;
    a "/..." text that is not one of the citizens' own button payloads loses its slash."""
    if not isinstance(value, str):
        raise BadRequest("message 必须是文字 / message must be a string")
    if not _valid_unicode(value):
        raise BadRequest("message 含有无效的字符 / message is not valid Unicode")
    text = _INVISIBLE.sub("", unicodedata.normalize("NFC", value)).strip()
    if text.startswith("/") and not _allowed_typed_intent(text):
        text = text.lstrip("/").strip()
    if not text:
        raise BadRequest("message 不能为空 / message is empty")
    return text


def too_long(text: str) -> bool:
    return len(text) > MAX_MESSAGE_CHARS


def clean_metadata(value: Any) -> dict[str, Any]:
    """The metadata a client may set: only `as_of` (YYYY-MM-DD). Other keys are dropped, so
    nothing a client invents is stored, and server-set keys cannot be forged."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadRequest("metadata 必须是 JSON 对象 / metadata must be a JSON object")
    clean: dict[str, Any] = {}
    as_of = value.get("as_of")
    if as_of is not None:
        if not isinstance(as_of, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", as_of):
            raise BadRequest("as_of 必须是 YYYY-MM-DD 格式的日期 / as_of must be YYYY-MM-DD")
        try:
            dt.date.fromisoformat(as_of)
        except ValueError:
            raise BadRequest(f"as_of“{as_of}”不是有效的日期 / not a real date") from None
        clean["as_of"] = as_of
    return clean


def clean_client_message_id(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not CLIENT_MESSAGE_ID.fullmatch(value):
        raise BadRequest("client_message_id 格式不对 / client_message_id is malformed")
    return value
