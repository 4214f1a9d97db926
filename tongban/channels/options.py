"""Tongban's option payloads (tongban.reply.Option) as the messages Rasa understands.

A button a citizen taps sends its payload back; every channel passes it through `to_rasa_text`
before the message goes to Rasa. Anything else is ordinary text and passes unchanged.
"""

from __future__ import annotations

import json
import re

_ITEM = re.compile(r"item:([a-z][a-z0-9_]{0,63})")
ACTIONS = {"case:history": "/case_history", "case:lookup": "/case_status"}


def to_rasa_text(text: str) -> str:
    match = _ITEM.fullmatch(text)
    if match:
        return "/inform" + json.dumps({"item": match.group(1)}, separators=(",", ":"))
    if text.startswith("ask:") and text[4:].strip():
        return text[4:].strip()
    return ACTIONS.get(text, text)
