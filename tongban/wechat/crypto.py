"""Tencent's signatures and message crypto, through wechatpy: no hand-written AES here.

- `signature` = sha1(sorted(token, timestamp, nonce)) and, in safe mode, `msg_signature` =
  sha1(sorted(token, timestamp, nonce, Encrypt)), both compared in constant time;
- XML is refused before parsing when it declares a DOCTYPE or entities, and parsed with
  xmltodict (which also refuses entities); wechatpy decrypts (AES-256-CBC, checking the AppID)
  and encrypts replies;
- reply text is made CDATA-safe: "]]>" cannot close the CDATA section and inject elements.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

import xmltodict
from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.messages import BaseMessage
from wechatpy.replies import TextReply

from tongban.channels.inbound import BadRequest
from tongban.settings import MAX_BODY_BYTES
from tongban.wechat.config import TIMESTAMP_WINDOW, WeChatConfig

_DECLARATIONS = re.compile(rb"<!\s*(DOCTYPE|ENTITY|ELEMENT|ATTLIST)", re.IGNORECASE)
_DIGITS = re.compile(r"[0-9]{1,20}")
_NONCE = re.compile(r"[A-Za-z0-9]{1,64}")
_HEX_SHA1 = re.compile(r"[0-9a-fA-F]{40}")
_ECHOSTR = re.compile(r"[A-Za-z0-9_-]{1,128}")
# Characters XML 1.0 cannot carry at all, not even in CDATA.
_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

FORBIDDEN = 403


def sha1_signature(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()


def same(expected: str, given: str) -> bool:
    """Constant-time comparison of two hex signatures."""
    return hmac.compare_digest(expected.lower().encode(), (given or "").lower().encode())


@dataclass(frozen=True)
class Query:
    """The URL parameters Tencent adds to every request."""

    signature: str
    timestamp: str
    nonce: str
    encrypted: bool
    msg_signature: str = ""
    echostr: str = ""

    @classmethod
    def from_args(cls, args: Any) -> Query:
        def one(name: str) -> str:
            value = args.get(name) if args is not None else None
            return value if isinstance(value, str) else ""

        query = cls(
            signature=one("signature"),
            timestamp=one("timestamp"),
            nonce=one("nonce"),
            encrypted=one("encrypt_type").lower() == "aes",
            msg_signature=one("msg_signature"),
            echostr=one("echostr"),
        )
        if not (_HEX_SHA1.fullmatch(query.signature) and _DIGITS.fullmatch(query.timestamp)):
            raise BadRequest("签名参数缺失或格式不对 / missing or malformed signature", FORBIDDEN)
        if not _NONCE.fullmatch(query.nonce):
            raise BadRequest("nonce 缺失或格式不对 / missing or malformed nonce", FORBIDDEN)
        if query.encrypted and not _HEX_SHA1.fullmatch(query.msg_signature):
            raise BadRequest("msg_signature 缺失或格式不对 / malformed msg_signature", FORBIDDEN)
        return query


class Verifier:
    """Checks Tencent's requests and opens and seals their messages for one account."""

    def __init__(self, config: WeChatConfig, clock: Any = time.time) -> None:
        self.config = config
        self.clock = clock
        self.crypto = (
            WeChatCrypto(config.token, config.encoding_aes_key, config.appid)
            if config.encrypts
            else None
        )

    def check(self, query: Query) -> None:
        """The plain signature (every request, GET and POST, in every mode) and the timestamp."""
        expected = sha1_signature(self.config.token, query.timestamp, query.nonce)
        if not same(expected, query.signature):
            raise BadRequest("签名不对 / bad signature", FORBIDDEN)
        if abs(self.clock() - int(query.timestamp)) > TIMESTAMP_WINDOW:
            raise BadRequest("时间戳已过期 / stale timestamp", FORBIDDEN)

    def echo(self, query: Query) -> str:
        """GET URL verification: the echostr, returned unchanged when the signature is right."""
        self.check(query)
        if not _ECHOSTR.fullmatch(query.echostr):
            raise BadRequest("echostr 格式不对 / malformed echostr")
        return query.echostr

    def open(self, query: Query, body: bytes) -> BaseMessage:
        """The message in a checked POST body (decrypted in safe and compatible modes)."""
        fields = parse_xml(body)
        if query.encrypted:
            if self.crypto is None:
                raise BadRequest("未启用加密，无法解密 / encryption is not configured")
            encrypt = fields.get("Encrypt")
            if not isinstance(encrypt, str) or not encrypt:
                raise BadRequest("缺少 Encrypt / no Encrypt element")
            expected = sha1_signature(self.config.token, query.timestamp, query.nonce, encrypt)
            if not same(expected, query.msg_signature):
                raise BadRequest("msg_signature 不对 / bad msg_signature", FORBIDDEN)
            try:
                plain = self.crypto.decrypt_message(
                    {"Encrypt": encrypt}, query.msg_signature.lower(), query.timestamp, query.nonce
                )
            except InvalidSignatureException:
                raise BadRequest("msg_signature 不对 / bad msg_signature", FORBIDDEN) from None
            except InvalidAppIdException:
                raise BadRequest("AppID 不符 / message for another account", FORBIDDEN) from None
            except Exception:  # bad base64, padding or length: wechatpy raises several kinds
                raise BadRequest("无法解密 / cannot decrypt the message") from None
            body = plain.encode("utf-8") if isinstance(plain, str) else plain
            parse_xml(body)  # the decrypted XML gets the same checks as a plaintext body
        elif self.config.mode.value == "safe":
            raise BadRequest("安全模式只接受加密消息 / safe mode accepts encrypted messages only")
        try:
            return parse_message(body.decode("utf-8"))
        except Exception:
            raise BadRequest("消息格式不对 / malformed message") from None

    def seal(self, xml: str, nonce: str) -> str:
        """An encrypted reply envelope, signed with a fresh timestamp."""
        assert self.crypto is not None
        return self.crypto.encrypt_message(xml, nonce, str(int(self.clock())))


def parse_xml(body: bytes) -> dict[str, Any]:
    """The fields of `<xml>…</xml>`; 413 over 64 KiB, 400 for declarations or bad XML."""
    if len(body) > MAX_BODY_BYTES:
        raise BadRequest("请求内容过长 / body too large", status=413)
    if not body.strip():
        raise BadRequest("请求内容为空 / empty body")
    if _DECLARATIONS.search(body):
        raise BadRequest("不接受 DOCTYPE 或实体声明 / DOCTYPE and entities are not accepted")
    try:
        parsed = xmltodict.parse(body.decode("utf-8"), disable_entities=True)
    except Exception:  # ExpatError, ValueError (entities), UnicodeDecodeError
        raise BadRequest("XML 格式不对 / malformed XML") from None
    fields = parsed.get("xml") if isinstance(parsed, dict) else None
    if not isinstance(fields, dict):
        raise BadRequest("XML 必须是 <xml> 元素 / the root must be <xml>")
    return fields


def cdata_safe(text: str) -> str:
    """Text fit for a CDATA section: "]]>" split across two sections, non-XML characters gone."""
    return _NOT_XML.sub("", text).replace("]]>", "]]]]><![CDATA[>")


def text_reply(message: BaseMessage, content: str, now: float | None = None) -> str:
    """The passive text reply to `message` (addresses swapped), CDATA-safe."""
    reply = TextReply(
        source=cdata_safe(str(message.target)),
        target=cdata_safe(str(message.source)),
        content=cdata_safe(content),
        time=int(now if now is not None else time.time()),
    )
    return reply.render()


def new_nonce() -> str:
    return str(secrets.randbelow(10**10))
