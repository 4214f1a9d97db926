"""Tencent's side of the conversation, for people without a WeChat account and for the tests.

`TencentPeer` builds the XML Tencent posts, signs it and (in safe and compatible modes) encrypts
it with wechatpy, the independent implementation, and opens the replies. `StubAPI` is a local
stand-in for the customer-service API (token and custom/send) that records what is pushed.
`tongban wechat-sim` (`main`) posts messages typed at a prompt to a running bot and prints each
reply with its UTF-8 byte count; `--replay 3` delivers every message three times, as Tencent does
when a reply is late. Loopback only by default.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import aiohttp
import xmltodict
from aiohttp import web
from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.utils import check_signature

from tongban.wechat.config import Mode, WeChatConfig
from tongban.wechat.replies import utf8_len

ACCOUNT = "gh_tongbandemo01"  # the Official Account's original id, as Tencent sends it
DEFAULT_URL = "http://127.0.0.1:5005/webhooks/wechat/webhook"
TIMEOUT = 5.0  # Tencent waits this long for a passive reply
HELP = """输入问题直接发送。特殊命令：
  /关注  /取消关注  /菜单 KEY（如 CASE_STATUS）  /位置 广东省深圳市南山区…  /语音 文字（空=无识别结果）
  /图片  /退出"""


def _cdata(value: str) -> str:
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


@dataclass
class TencentPeer:
    config: WeChatConfig
    account: str = ACCOUNT
    clock: Callable[[], float] = time.time
    _ids: Any = field(default_factory=lambda: itertools.count(secrets.randbelow(10**12) * 1000))

    def __post_init__(self) -> None:
        self.crypto = (
            WeChatCrypto(self.config.token, self.config.encoding_aes_key, self.config.appid)
            if self.config.encrypts
            else None
        )

    # -- messages -------------------------------------------------------------------------------

    def xml(self, openid: str, msg_type: str, fields: dict[str, str], msg_id: bool = True,
            create_time: int | None = None) -> str:  # fmt: skip
        parts = [
            f"<ToUserName>{_cdata(self.account)}</ToUserName>",
            f"<FromUserName>{_cdata(openid)}</FromUserName>",
            f"<CreateTime>{create_time or int(self.clock())}</CreateTime>",
            f"<MsgType>{_cdata(msg_type)}</MsgType>",
        ]
        parts += [f"<{k}>{_cdata(v)}</{k}>" for k, v in fields.items()]
        if msg_id:
            parts.append(f"<MsgId>{next(self._ids)}</MsgId>")
        return "<xml>" + "".join(parts) + "</xml>"

    def text(self, openid: str, content: str) -> str:
        return self.xml(openid, "text", {"Content": content})

    def voice(self, openid: str, recognition: str = "") -> str:
        fields = {"MediaId": "media1", "Format": "amr", "Recognition": recognition}
        return self.xml(openid, "voice", fields)

    def location(self, openid: str, label: str) -> str:
        fields = {"Location_X": "22.54", "Location_Y": "113.95", "Scale": "15", "Label": label}
        return self.xml(openid, "location", fields)

    def image(self, openid: str) -> str:
        return self.xml(openid, "image", {"PicUrl": "http://127.0.0.1/p.jpg", "MediaId": "m"})

    def event(self, openid: str, event: str, key: str = "", create_time: int | None = None) -> str:
        fields = {"Event": event} | ({"EventKey": key} if key else {})
        return self.xml(openid, "event", fields, msg_id=False, create_time=create_time)

    # -- requests and replies -----------------------------------------------------------------

    def request(
        self, xml: str, nonce: str | None = None, timestamp: str | None = None
    ) -> tuple[str, bytes]:
        """The query string and body Tencent would post for `xml`."""
        nonce = nonce or str(secrets.randbelow(10**10))
        timestamp = timestamp or str(int(self.clock()))
        signature = _sign(self.config.token, timestamp, nonce)
        args = {"signature": signature, "timestamp": timestamp, "nonce": nonce}
        if self.crypto is None:
            return urlencode(args), xml.encode("utf-8")
        sealed = xmltodict.parse(self.crypto.encrypt_message(xml, nonce, timestamp))["xml"]
        args |= {"encrypt_type": "aes", "msg_signature": sealed["MsgSignature"]}
        if self.config.mode is Mode.COMPATIBLE:  # the plaintext fields and the ciphertext
            body = xml.replace("</xml>", f"<Encrypt>{_cdata(sealed['Encrypt'])}</Encrypt></xml>")
        else:
            body = f"<xml><ToUserName>{_cdata(self.account)}</ToUserName><Encrypt>{_cdata(sealed['Encrypt'])}</Encrypt></xml>"
        return urlencode(args), body.encode("utf-8")

    def open(self, body: str) -> Any | None:
        """The reply message in a response body, decrypted and its signature checked; None for
        "success" or an empty body."""
        if body.strip() in ("", "success"):
            return None
        if self.crypto is not None:
            fields = xmltodict.parse(body)["xml"]
            body = self.crypto.decrypt_message(
                body, fields["MsgSignature"], fields["TimeStamp"], fields["Nonce"]
            )
        return parse_message(body)


def _sign(token: str, timestamp: str, nonce: str) -> str:
    import hashlib

    signature = hashlib.sha1("".join(sorted([token, timestamp, nonce])).encode()).hexdigest()
    check_signature(token, signature, timestamp, nonce)  # wechatpy agrees, or raises
    return signature


class StubAPI:
    """A local customer-service API: /cgi-bin/token and /cgi-bin/message/custom/send.

    `errors` lists errcodes to answer the next sends with (e.g. [40001] for an expired token)."""

    def __init__(self, on_message: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.token_fetches = 0
        self.sent: list[dict[str, Any]] = []
        self.errors: list[int] = []
        self.on_message = on_message
        self.port = 0
        self._runner: web.AppRunner | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, port: int = 0) -> StubAPI:
        app = web.Application()
        app.router.add_get("/cgi-bin/token", self._token)
        app.router.add_post("/cgi-bin/message/custom/send", self._send)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _token(self, request: web.Request) -> web.Response:
        self.token_fetches += 1
        return web.json_response(
            {"access_token": f"stub-token-{self.token_fetches}", "expires_in": 7200}
        )

    async def _send(self, request: web.Request) -> web.Response:
        if self.errors:
            code = self.errors.pop(0)
            return web.json_response({"errcode": code, "errmsg": "stub error"})
        body = await request.json()
        body["access_token"] = request.query.get("access_token")
        self.sent.append(body)
        if self.on_message:
            self.on_message(body)
        return web.json_response({"errcode": 0, "errmsg": "ok"})


# ---------------------------------------------------------------------- the command -----------


def _xml_for(peer: TencentPeer, openid: str, line: str) -> str | None:
    command, _, rest = line.partition(" ")
    rest = rest.strip()
    if command == "/关注":
        return peer.event(openid, "subscribe")
    if command == "/取消关注":
        return peer.event(openid, "unsubscribe")
    if command == "/菜单":
        return peer.event(openid, "CLICK", rest or "HELP")
    if command == "/位置":
        return peer.location(openid, rest or "广东省深圳市南山区科技园")
    if command == "/语音":
        return peer.voice(openid, rest)
    if command == "/图片":
        return peer.image(openid)
    return peer.text(openid, line)


def _show(label: str, text: str) -> None:
    print(f"{label}（{utf8_len(text)} 字节）:\n{text}\n", flush=True)


async def converse(
    url: str,
    config: WeChatConfig,
    lines: list[str] | None,
    openid: str,
    replay: int = 1,
    stub_port: int | None = None,
    settle: float = 0.0,
) -> int:
    """Post each line as Tencent would and print the replies; returns how many failed."""
    peer = TencentPeer(config)
    stub = None
    if stub_port is not None:
        stub = StubAPI(lambda body: _show("[客服消息]", body["text"]["content"]))
        try:
            await stub.start(stub_port)
        except OSError:
            print(f"（端口 {stub_port} 已被占用：不显示客服消息）", file=sys.stderr)
            stub = None
    failures = 0
    timeout = aiohttp.ClientTimeout(total=TIMEOUT)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        async for raw in _lines(lines):
            line = raw.strip()
            if not line:
                continue
            if line in ("/退出", "/quit", "/exit"):
                break
            xml = _xml_for(peer, openid, line)
            for attempt in range(1, replay + 1):
                query, body = peer.request(xml)  # a fresh nonce per delivery, as Tencent signs
                try:
                    async with http.post(f"{url}?{query}", data=body) as response:
                        text = await response.text()
                        status = response.status
                except (aiohttp.ClientError, TimeoutError) as exc:
                    print(f"第 {attempt} 次投递失败：{type(exc).__name__}", flush=True)
                    failures += 1
                    continue
                label = f"第 {attempt} 次投递" if replay > 1 else "回复"
                if status != 200:
                    print(f"{label}：HTTP {status} {text}", flush=True)
                    failures += 1
                    continue
                message = peer.open(text)
                if message is None:
                    print(
                        f"{label}：success（没有被动回复；答案如未送达，稍后以客服消息送达）\n",
                        flush=True,
                    )
                else:
                    _show(label, message.content)
        if settle:
            await asyncio.sleep(settle)  # let late answers arrive at the stub
    if stub is not None:
        await stub.stop()
    return failures


async def _lines(lines: list[str] | None) -> Any:
    """The given lines, or lines typed at a prompt (read off the event loop, so that pushed
    messages still print while the prompt waits)."""
    if lines is not None:
        for line in lines:
            yield line
        return
    print(HELP, flush=True)
    loop = asyncio.get_running_loop()
    while True:
        try:
            yield await loop.run_in_executor(None, input, "你> ")
        except (EOFError, KeyboardInterrupt):
            return


def config_from_file(path: str) -> WeChatConfig:
    """The WeChat entry of a credentials file, with the TONGBAN_WECHAT_* overrides applied."""
    from pathlib import Path

    import yaml

    from tongban.errors import BadArgument
    from tongban.settings import Settings

    try:
        data = yaml.safe_load(Path(path).read_text("utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise BadArgument(f"无法读取 {path}：{type(exc).__name__}") from None
    entry = data.get("tongban.channels.wechat.WeChatInput") if isinstance(data, dict) else None
    if not isinstance(entry, dict):
        raise BadArgument(f"{path} 里没有 tongban.channels.wechat.WeChatInput 的设置")
    # The simulator needs only the WeChat overrides, not the server secret settings() warns about.
    return WeChatConfig.from_credentials(entry, Settings.from_env().wechat)


def new_openid() -> str:
    """A made-up OpenID of Tencent's length (28 characters)."""
    return "oSim" + secrets.token_urlsafe(18)[:24]


def main(
    url: str = DEFAULT_URL,
    credentials: str = "credentials.yml",
    openid: str | None = None,
    replay: int = 1,
    stub_port: int | None = 5156,
    messages: list[str] | None = None,
    settle: float = 0.0,
) -> int:
    """`tongban wechat-sim`: 0 if every delivery got a 200, else 1."""
    config = config_from_file(credentials)
    openid = openid or new_openid()
    print(f"模拟微信服务器 → {url}（{config.mode.value} 模式，用户 {openid}）", flush=True)
    if stub_port is not None:
        print(f"客服消息接口（替身）: http://127.0.0.1:{stub_port}", flush=True)
    if messages and settle == 0.0 and stub_port is not None:
        settle = 6.0  # a scripted run waits for late answers before it ends
    try:
        failed = asyncio.run(converse(url, config, messages, openid, replay, stub_port, settle))
    except KeyboardInterrupt:
        return 130
    return 1 if failed else 0
