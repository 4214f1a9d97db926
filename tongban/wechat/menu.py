"""The Official Account's custom menu (自定义菜单): what each button is called and what it asks.

A click arrives as a CLICK event whose EventKey is the button's key; `payload_for` turns it into
Tongban's option payload (tongban.reply.Option), which the channel passes to Rasa like a tapped
button. `tongban wechat-menu` prints `menu_json()`, the body for Tencent's menu API
(POST https://api.weixin.qq.com/cgi-bin/menu/create?access_token=…). Tencent's limits: 3
top-level buttons of up to 4 Chinese characters, 5 sub-buttons each of up to 8, keys ≤ 128 bytes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass


@dataclass(frozen=True)
class Button:
    name: str
    key: str = ""
    payload: str = ""  # Tongban's payload (item:…, ask:…, case:…) or an allowed "/intent"
    sub: tuple[Button, ...] = ()


MENU: tuple[Button, ...] = (
    Button(
        "常办事项",
        sub=(
            Button("结婚登记", "ITEM_MARRIAGE", "item:marriage_registration"),
            Button("异地就医备案", "ITEM_MEDICAL_FILING", "item:medical_filing"),
            Button("驾驶证换证", "ITEM_DRIVING_LICENCE", "item:driving_licence_renewal"),
            Button("社保卡申领", "ITEM_SOCIAL_CARD", "item:social_security_card_apply"),
            Button("户口迁移", "ASK_HUKOU", "ask:户口迁移能跨省办吗"),
        ),
    ),
    Button("办件查询", "CASE_STATUS", "case:lookup"),
    Button(
        "帮助",
        sub=(
            Button("能问什么", "HELP", "/greet"),
            Button("人工服务", "HUMAN", "/human_handoff"),
            Button("重新开始", "RESTART", "/restart"),
        ),
    ),
)


def _buttons(menu: tuple[Button, ...] = MENU) -> list[Button]:
    return [leaf for top in menu for leaf in (top.sub or (top,))]


def payload_for(key: str, menu: tuple[Button, ...] = MENU) -> str | None:
    """The payload behind a CLICK event's EventKey, or None for a key the menu does not have."""
    return next((b.payload for b in _buttons(menu) if b.key == key), None)


def _json(button: Button) -> dict:
    if button.sub:
        return {"name": button.name, "sub_button": [_json(b) for b in button.sub]}
    return {"type": "click", "name": button.name, "key": button.key}


def menu_json(menu: tuple[Button, ...] = MENU) -> str:
    return json.dumps({"button": [_json(b) for b in menu]}, ensure_ascii=False, indent=2)
