"""The WeChat channel's parts alone: configuration, stores, replies, menu, customer service."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from tongban.reply import Option, Reply
from tongban.settings import Settings
from tongban.wechat.config import TENCENT_API, Mode, WeChatConfig, WeChatConfigError
from tongban.wechat.customer_service import CustomerService
from tongban.wechat.menu import MENU, menu_json, payload_for
from tongban.wechat.messages import place_text
from tongban.wechat.replies import CONTINUED, render_turn, split_bytes, utf8_len
from tongban.wechat.simulator import StubAPI
from tongban.wechat.stores import MemoryTTLStore, OptionStore, Quota

DEMO = {
    "token": "tongbanDemoToken2026",
    "appid": "wx0d0e0m0o0t0b0a0n",
    "encoding_aes_key": "TongbanDemoEncodingAESKey0123456789abcdefgh",
    "appsecret": "demo",
    "mode": "safe",
}


# ---------------------------------------------------------------- configuration ---------------


def test_environment_overrides_every_credential() -> None:
    env = {
        "TONGBAN_SECRET_KEY": "k",
        "TONGBAN_WECHAT_TOKEN": "realToken42",
        "TONGBAN_WECHAT_APPID": "wx1234567890abcdef",
        "TONGBAN_WECHAT_AES_KEY": "A" * 43,
        "TONGBAN_WECHAT_SECRET": "s3cret",
        "TONGBAN_WECHAT_MODE": "compatible",
        "TONGBAN_WECHAT_DEADLINE": "4",
        "TONGBAN_WECHAT_API_BASE": TENCENT_API,
    }
    config = WeChatConfig.from_credentials(DEMO, Settings.from_env(env).wechat)
    assert (config.token, config.appid, config.encoding_aes_key) == (
        "realToken42", "wx1234567890abcdef", "A" * 43
    )  # fmt: skip
    assert (config.appsecret, config.mode, config.deadline) == ("s3cret", Mode.COMPATIBLE, 4.0)
    assert config.api_base == TENCENT_API
    assert "realToken42" not in repr(config) and "s3cret" not in repr(config)


def test_the_shipped_demo_values_load() -> None:
    from pathlib import Path

    import yaml

    path = Path(__file__).resolve().parent.parent / "credentials.yml"
    credentials = yaml.safe_load(path.read_text("utf-8"))
    config = WeChatConfig.from_credentials(credentials["tongban.channels.wechat.WeChatInput"])
    assert config.mode is Mode.SAFE and config.deadline == 4.5


@pytest.mark.parametrize(
    "change",
    [{"token": ""}, {"appid": "nope"}, {"mode": "secret"}, {"deadline": "9"}, {"extra": 1}],
)
def test_bad_settings_name_the_problem(change: dict) -> None:
    with pytest.raises(WeChatConfigError):
        WeChatConfig.from_credentials(DEMO | change)


# ---------------------------------------------------------------- replies ---------------------


def test_one_turn_is_one_text_with_options_numbered_across_it() -> None:
    reply = Reply(
        lead="可以办。",
        options=(Option.item("marriage_registration", "结婚登记"), Option.call()),
        sources=(),
    )
    rendered = render_turn(
        [
            {"text": "您好"},
            {"text": "…", "custom": {"tongban": {"reply": reply.to_dict(), "expanded": False}}},
            {"text": "还有", "buttons": [{"title": "重新开始", "payload": "/restart"}]},
        ]
    )
    assert rendered.text == (
        "您好\n\n可以办。\n\n还有\n\n回复 1 结婚登记\n回复 2 重新开始\n电话：12345"
    )
    assert rendered.payloads == ["item:marriage_registration", "/restart"]


def test_split_keeps_every_character_and_respects_the_byte_limit() -> None:
    text = "通" * 1000 + "a😀" * 300 + "\n" + "办" * 700
    parts = split_bytes(text)
    assert all(utf8_len(p) <= 2048 for p in parts)
    assert "".join(p.removesuffix(CONTINUED) for p in parts).replace("\n", "") == text.replace(
        "\n", ""
    )
    assert split_bytes("短") == ["短"] and split_bytes("") == []


# ---------------------------------------------------------------- stores ----------------------


def test_options_and_quota_expire() -> None:
    now = [1000.0]
    store = MemoryTTLStore(clock=lambda: now[0])

    async def scenario() -> None:
        options = OptionStore(store, ttl=60)
        await options.put("u", ["item:a", "ask:b"])
        assert await options.payload("u", 2) == "ask:b"
        assert await options.payload("u", 3) is None
        now[0] += 61
        assert await options.payload("u", 1) is None
        quota = Quota(store, clock=lambda: now[0])
        assert not await quota.spend("u")  # no message from the user yet
        await quota.user_spoke("u")
        assert [await quota.spend("u") for _ in range(6)] == [True] * 5 + [False]
        await quota.user_spoke("u")  # a new message opens a new window
        assert await quota.spend("u")
        now[0] += 48 * 3600 + 1
        assert not await quota.spend("u")

    asyncio.run(scenario())


def test_memory_store_is_bounded() -> None:
    store = MemoryTTLStore(max_entries=3)

    async def scenario() -> None:
        for i in range(10):
            await store.set(f"k{i}", "v", 60)
        assert len(store) == 3 and await store.get("k9") == "v" and await store.get("k0") is None

    asyncio.run(scenario())


# ---------------------------------------------------------------- menu and location -----------


def test_menu_fits_tencents_limits_and_every_key_maps() -> None:
    data = json.loads(menu_json())
    assert len(data["button"]) <= 3
    for top in MENU:
        assert len(top.name.encode()) <= 16 and len(top.sub) <= 5
        for button in top.sub or (top,):
            assert len(button.name.encode()) <= 60 and len(button.key.encode()) <= 128
            assert payload_for(button.key) == button.payload
    assert payload_for("NO_SUCH_KEY") is None


@pytest.mark.parametrize(
    ("label", "text"),
    [
        ("广东省深圳市南山区科技园", "我在广东省深圳市"),
        ("北京市朝阳区建国路88号", "我在北京市"),
        ("新疆维吾尔自治区乌鲁木齐市天山区", "我在新疆维吾尔自治区乌鲁木齐市"),
        ("湖北省恩施土家族苗族自治州恩施市", "我在湖北省恩施土家族苗族自治州"),
        ("某某小区", None),
        ("", None),
    ],
)
def test_place_from_a_location_label(label: str, text: str | None) -> None:
    assert place_text(label) == text


# ---------------------------------------------------------------- customer service ------------


def test_token_is_fetched_once_for_concurrent_sends_and_refreshed_on_40001(caplog) -> None:
    async def scenario() -> None:
        stub = await StubAPI().start()
        client = CustomerService("wx1234567890abcdef", "s", stub.base)
        try:
            assert all(await asyncio.gather(*(client.send_text("u", f"{i}") for i in range(5))))
            assert stub.token_fetches == 1
            stub.errors = [40001]  # the cached token was invalidated elsewhere
            assert await client.send_text("u", "again")
            assert stub.token_fetches == 2
            assert stub.sent[-1]["access_token"] == "stub-token-2"
            stub.errors = [42001, 42001]  # still refused after one refresh: give up, logged
            with caplog.at_level(logging.ERROR):
                assert not await client.send_text("u", "never")
            assert stub.token_fetches == 3
            assert "errcode 42001" in caplog.text and "never" not in caplog.text
            stub.errors = [45047]  # out of quota: not a token problem, no refetch
            assert not await client.send_text("u", "x")
            assert stub.token_fetches == 3
        finally:
            await client.close()
            await stub.stop()

    asyncio.run(asyncio.wait_for(scenario(), 20))


def test_token_is_refreshed_before_it_expires() -> None:
    now = [0.0]

    async def scenario() -> None:
        stub = await StubAPI().start()
        client = CustomerService("wx1234567890abcdef", "s", stub.base, clock=lambda: now[0])
        try:
            await client.send_text("u", "a")
            now[0] = 7200 - 61
            await client.send_text("u", "b")
            assert stub.token_fetches == 1
            now[0] = 7200 - 59  # within the last minute: fetch a new one
            await client.send_text("u", "c")
            assert stub.token_fetches == 2
        finally:
            await client.close()
            await stub.stop()

    asyncio.run(asyncio.wait_for(scenario(), 20))


def test_an_unreachable_api_is_logged_not_raised(caplog) -> None:
    async def scenario() -> None:
        client = CustomerService("wx1234567890abcdef", "s", "http://127.0.0.1:9")
        try:
            with caplog.at_level(logging.ERROR):
                assert not await client.send_text("u", "x")
        finally:
            await client.close()

    asyncio.run(asyncio.wait_for(scenario(), 20))
    assert "errcode network" in caplog.text
