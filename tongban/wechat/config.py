"""The WeChat channel's configuration: credentials.yml's entry, each value overridable from the
environment (TONGBAN_WECHAT_TOKEN, _APPID, _AES_KEY, _SECRET, _MODE, _DEADLINE, _API_BASE).

credentials.yml holds documented demo values; a real account sets every one from the environment.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from tongban.errors import TongbanError

TENCENT_API = "https://api.weixin.qq.com"
DEFAULT_DEADLINE = 4.5  # seconds: Tencent gives up after 5 and delivers again
TIMESTAMP_WINDOW = 300  # seconds a request's timestamp may be off our clock
_AES_KEY = re.compile(r"[A-Za-z0-9]{43}")
_TOKEN = re.compile(r"[A-Za-z0-9]{3,32}")  # what Tencent's settings page accepts
_APPID = re.compile(r"wx[0-9a-zA-Z]{16}")

# Environment suffix (TONGBAN_WECHAT_<SUFFIX>, lower-cased) -> credentials.yml key.
ENV_KEYS = {
    "token": "token",
    "appid": "appid",
    "aes_key": "encoding_aes_key",
    "secret": "appsecret",
    "mode": "mode",
    "deadline": "deadline",
    "api_base": "api_base",
}


class Mode(str, Enum):
    """Tencent's three message modes (消息加解密方式)."""

    PLAIN = "plain"  # 明文模式
    COMPATIBLE = "compatible"  # 兼容模式: plaintext fields and <Encrypt> both
    SAFE = "safe"  # 安全模式: everything encrypted


class WeChatConfigError(TongbanError):
    """A WeChat setting is missing or malformed; the message names it."""


@dataclass(frozen=True)
class WeChatConfig:
    token: str = field(repr=False)
    appid: str
    encoding_aes_key: str = field(default="", repr=False)
    appsecret: str = field(default="", repr=False)
    mode: Mode = Mode.SAFE
    deadline: float = DEFAULT_DEADLINE
    api_base: str = TENCENT_API

    def __post_init__(self) -> None:
        if not _TOKEN.fullmatch(self.token):
            raise WeChatConfigError(
                "微信 token 必须是 3-32 个字母或数字 / token: 3-32 letters or digits"
            )
        if not _APPID.fullmatch(self.appid):
            raise WeChatConfigError("微信 appid 格式不对（wx 加 16 位）/ appid: wx + 16 characters")
        if self.mode is not Mode.PLAIN and not _AES_KEY.fullmatch(self.encoding_aes_key):
            raise WeChatConfigError(
                "兼容模式和安全模式需要 43 位的 EncodingAESKey / "
                "compatible and safe modes need a 43-character encoding_aes_key"
            )
        if not 0.1 <= self.deadline <= 4.8:
            raise WeChatConfigError("deadline 必须在 0.1 到 4.8 秒之间 / deadline: 0.1-4.8 s")
        if not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", self.api_base):
            raise WeChatConfigError(
                "api_base 必须是 http(s) 地址 / api_base must be an http(s) URL"
            )

    @property
    def encrypts(self) -> bool:
        return self.mode is not Mode.PLAIN

    @classmethod
    def from_credentials(
        cls,
        credentials: Mapping[str, Any] | None,
        overrides: Iterable[tuple[str, str]] = (),
    ) -> WeChatConfig:
        """credentials.yml's values, then the TONGBAN_WECHAT_* overrides (settings().wechat)."""
        values = {k: v for k, v in dict(credentials or {}).items() if v is not None}
        for suffix, value in overrides:
            if suffix in ENV_KEYS:
                values[ENV_KEYS[suffix]] = value
        unknown = set(values) - set(ENV_KEYS.values())
        if unknown:
            raise WeChatConfigError(
                f"微信设置里有未知的键 / unknown keys: {', '.join(sorted(unknown))}"
            )
        if not values.get("token") or not values.get("appid"):
            raise WeChatConfigError("微信渠道需要 token 和 appid / token and appid are required")
        try:
            mode = Mode(str(values.get("mode", Mode.SAFE.value)).strip().lower())
        except ValueError:
            raise WeChatConfigError("mode 只能是 plain、compatible 或 safe") from None
        try:
            deadline = float(values.get("deadline", DEFAULT_DEADLINE))
        except (TypeError, ValueError):
            raise WeChatConfigError("deadline 必须是秒数 / deadline must be seconds") from None
        return cls(
            token=str(values["token"]).strip(),
            appid=str(values["appid"]).strip(),
            encoding_aes_key=str(values.get("encoding_aes_key", "")).strip(),
            appsecret=str(values.get("appsecret", "")).strip(),
            mode=mode,
            deadline=deadline,
            api_base=str(values.get("api_base", TENCENT_API)).strip().rstrip("/"),
        )
