"""Tencent's and wechatpy's test vectors, both ways, through tongban.wechat.crypto; and refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from wechatpy.crypto.base import BasePrpCrypto
from wechatpy.messages import TextMessage

from tongban.channels.inbound import BadRequest
from tongban.wechat.config import Mode, WeChatConfig, WeChatConfigError
from tongban.wechat.crypto import Query, Verifier, cdata_safe, parse_xml, sha1_signature, text_reply

VECTORS = json.loads((Path(__file__).parent / "data/wechat_vectors.json").read_text("utf-8"))


def verifier(vector: dict, mode: Mode = Mode.SAFE) -> Verifier:
    config = WeChatConfig(
        token=vector["token"],
        appid=vector["appid"],
        encoding_aes_key=vector["encoding_aes_key"],
        mode=mode,
    )
    return Verifier(config, clock=lambda: float(vector["timestamp"]))


def encrypted_query(vector: dict, msg_signature: str | None = None) -> Query:
    return Query.from_args(
        {
            "signature": sha1_signature(vector["token"], vector["timestamp"], vector["nonce"]),
            "timestamp": vector["timestamp"],
            "nonce": vector["nonce"],
            "encrypt_type": "aes",
            "msg_signature": msg_signature or vector["msg_signature"],
        }
    )


def envelope(encrypt: str, to: str = "gh_10f6c3c3ac5a") -> bytes:
    return (
        f"<xml><ToUserName><![CDATA[{to}]]></ToUserName>"
        f"<Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    ).encode()


@pytest.mark.parametrize("vector", VECTORS["signature"], ids=["spamtest", "789"])
def test_signature_vectors(vector: dict) -> None:
    assert (
        sha1_signature(vector["token"], vector["timestamp"], vector["nonce"]) == vector["signature"]
    )


def test_url_verification_uses_the_plain_signature() -> None:
    vector = VECTORS["signature"][0]
    config = WeChatConfig(token=vector["token"], appid="wx2c2769f8efd9abc2", mode=Mode.PLAIN)
    check = Verifier(config, clock=lambda: float(vector["timestamp"]))
    args = {k: vector[k] for k in ("signature", "timestamp", "nonce")} | {"echostr": "58123"}
    assert check.echo(Query.from_args(args)) == "58123"
    with pytest.raises(BadRequest) as refused:
        check.echo(Query.from_args(args | {"nonce": "1320562133"}))
    assert refused.value.status == 403


def test_tencent_sample_decrypts() -> None:
    vector = VECTORS["oa_decrypt"]
    message = verifier(vector).open(encrypted_query(vector), envelope(vector["encrypt"]))
    assert isinstance(message, TextMessage)
    assert message.content == vector["content"]
    assert str(message.id) == vector["msg_id"]
    assert (message.source, message.target) == (vector["from"], vector["to"])


def test_wechatpy_vector_decrypts() -> None:
    vector = VECTORS["decrypt"]
    message = verifier(vector).open(encrypted_query(vector), envelope(vector["encrypt"]))
    assert (message.content, message.source) == (vector["content"], vector["from"])


def test_reply_encrypts_to_the_deterministic_vector(monkeypatch: pytest.MonkeyPatch) -> None:
    vector = VECTORS["encrypt"]
    monkeypatch.setattr(BasePrpCrypto, "get_random_string", lambda self: vector["random"])
    sealed = verifier(vector).seal(vector["reply"], vector["nonce"])
    fields = parse_xml(sealed.encode())
    assert fields["Encrypt"] == vector["encrypt"]
    assert fields["MsgSignature"] == vector["msg_signature"]
    assert (fields["TimeStamp"], fields["Nonce"]) == (vector["timestamp"], vector["nonce"])


def test_a_sealed_reply_opens_again_as_the_same_message() -> None:
    vector = VECTORS["oa_decrypt"]
    check = verifier(vector)
    incoming = check.open(encrypted_query(vector), envelope(vector["encrypt"]))
    sealed = parse_xml(check.seal(text_reply(incoming, "您好]]><x/>", 1409735670), "777").encode())
    query = Query.from_args(
        {
            "signature": sha1_signature(vector["token"], sealed["TimeStamp"], "777"),
            "timestamp": sealed["TimeStamp"],
            "nonce": "777",
            "encrypt_type": "aes",
            "msg_signature": sealed["MsgSignature"],
        }
    )
    reply = check.open(query, envelope(sealed["Encrypt"]))
    assert reply.content == "您好]]><x/>"
    assert (reply.source, reply.target) == (vector["to"], vector["from"])


def test_wrong_msg_signature_is_refused() -> None:
    vector = VECTORS["oa_decrypt"]
    with pytest.raises(BadRequest) as refused:
        verifier(vector).open(encrypted_query(vector, "0" * 40), envelope(vector["encrypt"]))
    assert refused.value.status == 403


def test_message_for_another_appid_is_refused() -> None:
    vector = dict(VECTORS["oa_decrypt"], appid="wx0000000000000000")
    with pytest.raises(BadRequest) as refused:
        verifier(vector).open(encrypted_query(vector), envelope(vector["encrypt"]))
    assert refused.value.status == 403


@pytest.mark.parametrize("encrypt", ["hyzAe4OzmOMbd6Tv", "not base64 at all!", "AAAA" * 8])
def test_truncated_or_garbled_ciphertext_is_400(encrypt: str) -> None:
    vector = VECTORS["oa_decrypt"]
    msg_signature = sha1_signature(vector["token"], vector["timestamp"], vector["nonce"], encrypt)
    with pytest.raises(BadRequest) as refused:
        verifier(vector).open(encrypted_query(vector, msg_signature), envelope(encrypt))
    assert refused.value.status == 400


@pytest.mark.parametrize("key", ["short", "a" * 44, "abcdefghijklmnopqrstuvwxyz0123456789ABCDEF!"])
def test_encoding_aes_key_must_be_43_letters_or_digits(key: str) -> None:
    with pytest.raises(WeChatConfigError):
        WeChatConfig(token="spamtest", appid="wx2c2769f8efd9abc2", encoding_aes_key=key)


def test_cdata_cannot_be_closed_by_reply_text() -> None:
    vector = VECTORS["oa_decrypt"]
    incoming = verifier(vector).open(encrypted_query(vector), envelope(vector["encrypt"]))
    xml = text_reply(incoming, "a]]><MsgType>hack</MsgType><![CDATA[b\x00")
    fields = parse_xml(xml.encode())
    assert fields["MsgType"] == "text"
    assert fields["Content"] == "a]]><MsgType>hack</MsgType><![CDATA[b"
    assert cdata_safe("]]>") == "]]]]><![CDATA[>"
