"""What each kind of WeChat message asks of Tongban: a message for the assistant, a fixed polite
reply, forgetting the user, or nothing. Channel wording lives here; answers come from Tongban.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from wechatpy import events, messages
from wechatpy.messages import BaseMessage

from tongban.channels.inbound import BadRequest, clean_text
from tongban.channels.options import to_rasa_text
from tongban.wechat.menu import payload_for

PLEASE_TYPE = "抱歉，这条语音我没能听清。请直接输入文字，例如“在深圳能领结婚证吗”。"
TEXT_ONLY = (
    "抱歉，我暂时只能看懂文字消息。请用文字告诉我您想办的业务、户籍地和所在地，"
    "例如“我是江西人，在深圳打工，能领结婚证吗？”"
)
UNKNOWN_MENU = "这个菜单项暂时不可用，请直接输入您的问题。"
NOT_A_PLACE = "抱歉，没能从这个位置看出所在城市。请直接告诉我您在哪个城市，例如“我在深圳”。"
EMPTY_TEXT = "没有收到文字内容，请再发一次您的问题。"
# subscribe: the assistant's own greeting (what Tongban can do), with its buttons numbered.
WELCOME_INTENT = "/greet"
# "广东省深圳市南山区…": the province and the city (or prefecture) at the head of an address.
_ADDRESS_HEAD = re.compile(
    r"^(?:[^\s市省]{2,8}?(?:省|自治区|特别行政区))?[^\s市省]{2,10}?(?:市|自治州|地区|盟)"
)


@dataclass(frozen=True)
class Ask:
    """A message for the assistant: the text Rasa gets and WeChat's facts for the metadata."""

    text: str
    wechat: dict[str, Any] = field(default_factory=dict)
    numbered: bool = False  # a bare number that may pick a numbered option


@dataclass(frozen=True)
class Say:
    text: str


@dataclass(frozen=True)
class Forget:
    """unsubscribe: delete the user's data and reply nothing."""


@dataclass(frozen=True)
class Ignore:
    """Nothing to say (VIEW, automatic location reports, unknown events)."""


Action = Ask | Say | Forget | Ignore
_NUMBER = re.compile(r"[0-9０-９]{1,2}")


def _facts(message: BaseMessage, **extra: Any) -> dict[str, Any]:
    facts: dict[str, Any] = {"msg_type": message.type}
    facts.update({k: v for k, v in extra.items() if v})
    return facts


def place_text(label: str | None) -> str | None:
    """ "我在广东省深圳市" from a location's Label, or None if it names no city."""
    match = _ADDRESS_HEAD.match((label or "").strip())
    return f"我在{match.group(0)}" if match else None


def _text(value: Any, message: BaseMessage, **facts: Any) -> Action:
    try:
        text = clean_text(value)
    except BadRequest:
        return Say(EMPTY_TEXT)
    numbered = bool(_NUMBER.fullmatch(text))
    return Ask(to_rasa_text(text), _facts(message, **facts), numbered=numbered)


def understand(message: BaseMessage) -> Action:
    if isinstance(message, messages.TextMessage):
        return _text(message.content, message)
    if isinstance(message, messages.VoiceMessage):
        if (message.recognition or "").strip():
            return _text(message.recognition, message)
        return Say(PLEASE_TYPE)
    if isinstance(message, messages.LocationMessage):
        text = place_text(message.label)
        return Ask(text, _facts(message)) if text else Say(NOT_A_PLACE)
    if isinstance(message, events.SubscribeEvent | events.SubscribeScanEvent):
        return Ask(WELCOME_INTENT, _facts(message, event="subscribe"))
    if isinstance(message, events.UnsubscribeEvent):
        return Forget()
    if isinstance(message, events.ClickEvent):
        payload = payload_for(str(message.key or ""))
        if payload is None:
            return Say(UNKNOWN_MENU)
        return Ask(to_rasa_text(payload), _facts(message, event="CLICK", event_key=message.key))
    if isinstance(message, events.BaseEvent):
        return Ignore()
    return Say(TEXT_ONLY)  # image, link, video, shortvideo, and anything else


def dedup_key(message: BaseMessage) -> str:
    """MsgId for messages; FromUserName + CreateTime for events, which have no MsgId."""
    raw = message._data if isinstance(getattr(message, "_data", None), dict) else {}
    msg_id = str(raw.get("MsgId") or "").strip()
    if msg_id.isdigit():
        return f"msg:{msg_id}"
    return f"event:{message.source}:{raw.get('CreateTime')}"
