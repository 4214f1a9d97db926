"""A turn's bot messages as one WeChat text: rendered from the typed `Reply`, buttons numbered.

All messages of a turn join into one text; its options become "回复 1 …" lines (numbered across
the turn) whose payloads the channel keeps, so a reply of that digit means the option. The text
is cut into parts of at most 2,048 UTF-8 bytes, on line breaks where possible and never inside a
character: the first is the passive reply, the rest are pushed. Details come on "详情".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tongban.render import numbered_options, plain_text
from tongban.reply import Option, Reply

MAX_REPLY_BYTES = 2048
CONTINUED = "（接下条）"


@dataclass(frozen=True)
class Rendered:
    text: str
    payloads: list[str]  # payload of "回复 1" first


def _message_text(message: dict[str, Any]) -> tuple[str, tuple[Option, ...]]:
    """The text of one bot message and its options, in order (calls last, as the Reply has them)."""
    tongban = (message.get("custom") or {}).get("tongban")
    if isinstance(tongban, dict) and isinstance(tongban.get("reply"), dict):
        try:
            reply = Reply.from_dict(tongban["reply"])
        except (KeyError, TypeError, ValueError):
            reply = None
        if reply is not None:
            text = plain_text(reply, details=bool(tongban.get("expanded")))
            return text, (*reply.options, *reply.follow_ups)
    options = tuple(
        Option(str(b.get("title") or b.get("payload")), str(b.get("payload") or b.get("title")))
        for b in message.get("buttons") or message.get("quick_replies") or ()
        if isinstance(b, dict) and (b.get("payload") or b.get("title"))
    )
    return str(message.get("text") or "").strip(), options


def render_turn(messages: list[dict[str, Any]]) -> Rendered:
    texts: list[str] = []
    options: list[Option] = []
    for message in messages:
        text, found = _message_text(message)
        if text:
            texts.append(text)
        options.extend(found)
    # One Reply holding every option of the turn numbers them once, 1..n, as render does.
    menu = Reply(lead="", options=tuple(options))
    lines = numbered_options(menu)
    payloads = [o.payload for o in options if not o.payload.startswith("tel:")]
    body = "\n\n".join(texts)
    if lines:
        body = f"{body}\n\n" + "\n".join(lines) if body else "\n".join(lines)
    return Rendered(body, payloads)


def utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


def split_bytes(text: str, limit: int = MAX_REPLY_BYTES) -> list[str]:
    """`text` in parts of at most `limit` UTF-8 bytes, each but the last ending in CONTINUED;
    cut after a line break when one is in the second half of a part, else between characters."""
    if utf8_len(text) <= limit:
        return [text] if text else []
    room = limit - utf8_len(CONTINUED)
    parts: list[str] = []
    rest = text
    while utf8_len(rest) > limit:
        size, end = 0, 0
        for index, char in enumerate(rest):
            size += utf8_len(char)
            if size > room:
                break
            end = index + 1
        end = max(end, 1)
        newline = rest.rfind("\n", 0, end)
        if newline >= end // 2:
            end = newline + 1
        parts.append(rest[:end].rstrip("\n") + CONTINUED)
        rest = rest[end:].lstrip("\n")
    if rest:
        parts.append(rest)
    return parts
