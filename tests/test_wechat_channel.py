"""The WeChat channel over HTTP (Sanic's ASGI app), with wechatpy playing Tencent's server
(tongban.wechat.simulator.TencentPeer) and a local stub of the customer-service API."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from types import SimpleNamespace
from typing import Any

import pytest
from sanic import Sanic
from wechatpy import parse_message

from tests.asgi import AsgiClient
from tongban.channels.client import client_key
from tongban.channels.wechat import WeChatInput
from tongban.reply import Option, Reply
from tongban.wechat import messages as kinds
from tongban.wechat.config import Mode, WeChatConfig
from tongban.wechat.replies import CONTINUED, MAX_REPLY_BYTES, utf8_len
from tongban.wechat.simulator import StubAPI, TencentPeer

URL = "/webhooks/wechat/webhook"
OPENID = "oyORnuP8q7ou2gfYjqLzSIWZf0rs"
KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


class Assistant:
    """Rasa's message handler, scripted: records each run, optionally slow."""

    def __init__(self) -> None:
        self.messages: list[Any] = []
        self.delay = 0.0
        self.gate: asyncio.Event | None = None  # when set up, answers only once it is set
        self.answer: Any = lambda message: [{"text": f"答：{message.text}"}]

    async def __call__(self, message: Any) -> None:
        self.messages.append(message)
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.gate is not None:
            await self.gate.wait()
        for reply in self.answer(message):
            await message.output_channel.send_response(message.sender_id, reply)


class Harness:
    def __init__(self, mode: Mode = Mode.SAFE, deadline: float = 4.5, store: Any = None):
        self.stub = StubAPI()
        self.mode, self.deadline = mode, deadline
        self.assistant = Assistant()
        self.agent = SimpleNamespace(tracker_store=store)
        self.peer: TencentPeer | None = None

    async def __aenter__(self) -> Harness:
        await self.stub.start()
        config = WeChatConfig(
            token="spamtest",
            appid="wx2c2769f8efd9abc2",
            encoding_aes_key=KEY,
            appsecret="stub-secret",
            mode=self.mode,
            deadline=self.deadline,
            api_base=self.stub.base,
        )
        self.channel = WeChatInput(config)
        self.peer = TencentPeer(config)
        app = Sanic(f"wechat_test_{uuid.uuid4().hex}")
        app.blueprint(self.channel.blueprint(self.assistant), url_prefix="/webhooks/wechat")
        app.ctx.agent = self.agent
        self.client = AsgiClient(app)
        return self

    async def __aexit__(self, *exc: Any) -> None:
        for task in list(self.channel.tasks):
            task.cancel()
        await self.channel.customer_service.close()
        await self.stub.stop()

    async def raw(self, query: str, body: bytes, method: str = "POST") -> tuple[int, str]:
        status, _, content = await self.client.request(
            method, URL, body, query, headers={"content-type": "text/xml"}
        )
        return status, content.decode("utf-8", "replace")

    async def send(self, xml: str, **kwargs: Any) -> tuple[int, Any]:
        """Post `xml` as Tencent would; the status and the opened reply (None for success)."""
        query, body = self.peer.request(xml, **kwargs)
        status, text = await self.raw(query, body)
        return status, (self.peer.open(text) if status == 200 else text)

    async def pushed(self, count: int = 1, within: float = 3.0) -> list[str]:
        end = time.monotonic() + within
        while len(self.stub.sent) < count and time.monotonic() < end:
            await asyncio.sleep(0.02)
        return [m["text"]["content"] for m in self.stub.sent]


def run(scenario) -> Any:
    return asyncio.run(asyncio.wait_for(scenario(), timeout=20))


@pytest.fixture(autouse=True)
def _test_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Sanic, "test_mode", True)


# ---------------------------------------------------------------- modes and verification ------


@pytest.mark.parametrize("mode", list(Mode))
def test_a_text_message_is_answered_in_every_mode(mode: Mode) -> None:
    async def scenario() -> None:
        async with Harness(mode) as h:
            status, reply = await h.send(h.peer.text(OPENID, "你好"))
            assert status == 200
            assert reply.content == "答：你好"
            assert (reply.source, reply.target) == (h.peer.account, OPENID)
            message = h.assistant.messages[0]
            assert message.sender_id == OPENID
            assert message.input_channel == "wechat"
            assert message.metadata["wechat"] == {"msg_type": "text"}
            # Case lookups count per WeChat account, not per Tencent's shared address.
            assert message.metadata["client"] == client_key(f"wechat:{OPENID}")

    run(scenario)


def test_safe_mode_replies_are_encrypted() -> None:
    async def scenario() -> None:
        async with Harness(Mode.SAFE) as h:
            query, body = h.peer.request(h.peer.text(OPENID, "你好"))
            status, text = await h.raw(query, body)
            assert status == 200 and "<Encrypt>" in text and "答" not in text
            assert h.peer.open(text).content == "答：你好"

    run(scenario)


def test_safe_mode_refuses_a_plaintext_post() -> None:
    async def scenario() -> None:
        async with Harness(Mode.SAFE) as h:
            plain = TencentPeer(
                WeChatConfig(token="spamtest", appid="wx2c2769f8efd9abc2", mode=Mode.PLAIN)
            )
            query, body = plain.request(plain.text(OPENID, "你好"))
            assert (await h.raw(query, body))[0] == 400
            assert h.assistant.messages == []

    run(scenario)


def _with(query: str, **changes: str) -> str:
    args = dict(part.split("=", 1) for part in query.split("&"))
    return "&".join(f"{k}={v}" for k, v in (args | changes).items())


def test_get_url_verification() -> None:
    async def scenario() -> None:
        async with Harness() as h:
            query, _ = h.peer.request("<xml/>")
            args = query.split("&encrypt_type")[0]  # a GET carries only the plain signature
            assert await h.raw(_with(args, echostr="4312087601"), b"", "GET") == (200, "4312087601")
            forged = _with(args, echostr="1", signature="0" * 40)
            assert (await h.raw(forged, b"", "GET"))[0] == 403

    run(scenario)


# ---------------------------------------------------------------- bad requests ----------------

BOMB = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
    b"<xml><Content>&lol2;</Content></xml>"
)
XXE = b'<!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]><xml><Content>&x;</Content></xml>'


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (BOMB, 400),
        (XXE, 400),
        (b"<xml><ToUserName>gh</ToUserName><Encrypt>", 400),
        (b"not xml at all", 400),
        (b"", 400),
        (b"<xml>" + b"x" * (64 * 1024) + b"</xml>", 413),
    ],
    ids=["xml-bomb", "xxe", "malformed", "not-xml", "empty", "oversize"],
)
@pytest.mark.parametrize("mode", [Mode.PLAIN, Mode.SAFE])
def test_bad_bodies_get_4xx_and_never_reach_the_assistant(
    body: bytes, status: int, mode: Mode
) -> None:
    async def scenario() -> None:
        async with Harness(mode) as h:
            query, _ = h.peer.request("<xml/>")
            got, text = await h.raw(query, body)
            assert got == status, text
            assert "Traceback" not in text
            assert h.assistant.messages == []

    run(scenario)


def test_bad_msg_signature_stale_timestamp_and_replayed_nonce_are_403() -> None:
    async def scenario() -> None:
        async with Harness(Mode.SAFE) as h:
            query, _ = h.peer.request(h.peer.text(OPENID, "你好"))
            _, other_body = h.peer.request(h.peer.text(OPENID, "另一条"))
            assert (await h.raw(query, other_body))[0] == 403  # msg_signature of another body
            stale = str(int(time.time()) - 301)
            assert (await h.send(h.peer.text(OPENID, "旧"), timestamp=stale))[0] == 403
            now = str(int(time.time()))
            assert (await h.send(h.peer.text(OPENID, "一"), nonce="424242", timestamp=now))[
                0
            ] == 200
            # The same (timestamp, nonce) with a different message: a replay.
            replay = await h.send(h.peer.text(OPENID, "二"), nonce="424242", timestamp=now)
            assert replay[0] == 403
            assert [m.text for m in h.assistant.messages] == ["一"]

    run(scenario)


def test_the_identical_request_again_gets_the_same_answer_without_a_second_run() -> None:
    async def scenario() -> None:
        async with Harness(Mode.SAFE) as h:
            query, body = h.peer.request(h.peer.text(OPENID, "同一条"))
            first, second = await h.raw(query, body), await h.raw(query, body)
            assert first[0] == second[0] == 200
            assert h.peer.open(first[1]).content == h.peer.open(second[1]).content == "答：同一条"
            assert len(h.assistant.messages) == 1

    run(scenario)


def test_a_forged_signature_is_403() -> None:
    async def scenario() -> None:
        async with Harness(Mode.PLAIN) as h:
            query, body = h.peer.request(h.peer.text(OPENID, "你好"))
            assert (await h.raw(_with(query, signature="0" * 40), body))[0] == 403
            assert h.assistant.messages == []

    run(scenario)


def test_an_invalid_openid_is_400() -> None:
    async def scenario() -> None:
        async with Harness(Mode.PLAIN) as h:
            status, _ = await h.send(h.peer.text("o<script>", "你好"))
            assert status == 400
            assert h.assistant.messages == []

    run(scenario)


# ---------------------------------------------------------------- deadline and retries --------


def test_a_slow_answer_gets_success_in_time_and_arrives_by_customer_service() -> None:
    async def scenario() -> None:
        async with Harness(deadline=0.3) as h:
            h.assistant.delay = 1.5
            started = time.monotonic()
            status, reply = await h.send(h.peer.text(OPENID, "慢问题"))
            assert status == 200 and reply is None  # "success"
            assert time.monotonic() - started < 1.2  # long before the answer is ready
            assert await h.pushed(1) == ["答：慢问题"]
            assert h.stub.sent[0]["touser"] == OPENID
            assert h.stub.token_fetches == 1

    run(scenario)


def test_three_deliveries_of_one_msgid_run_the_assistant_once() -> None:
    async def scenario() -> None:
        async with Harness(deadline=0.5) as h:
            h.assistant.gate = release = asyncio.Event()
            xml = h.peer.text(OPENID, "重试")
            first = await h.send(xml)  # each delivery freshly signed, same MsgId
            assert first == (200, None)  # not ready within the deadline: success
            second = asyncio.ensure_future(h.send(xml))
            key = kinds.dedup_key(parse_message(xml))
            while not await h.channel.deliveries.someone_waiting(key):
                await asyncio.sleep(0.01)
            release.set()  # the answer is ready while Tencent's second delivery waits
            status, reply = await second
            assert (status, reply.content) == (200, "答：重试")  # taken passively
            status, reply = await h.send(xml)
            assert (status, reply.content) == (200, "答：重试")  # a third gets the same reply
            assert len(h.assistant.messages) == 1
            await asyncio.sleep(0.2)
            assert h.stub.sent == []  # delivered once, passively: nothing pushed

    run(scenario)


def test_retries_after_a_pushed_answer_get_success() -> None:
    async def scenario() -> None:
        async with Harness(deadline=0.2) as h:
            h.assistant.delay = 0.4
            xml = h.peer.text(OPENID, "推送")
            assert (await h.send(xml))[1] is None
            assert await h.pushed(1) == ["答：推送"]
            assert (await h.send(xml))[1] is None
            assert len(h.assistant.messages) == 1 and len(h.stub.sent) == 1

    run(scenario)


def test_events_are_deduplicated_by_sender_and_create_time() -> None:
    async def scenario() -> None:
        async with Harness() as h:
            created = int(time.time())
            xml = h.peer.event(OPENID, "subscribe", create_time=created)
            replies = await asyncio.gather(*(h.send(xml) for _ in range(3)))
            assert len(h.assistant.messages) == 1
            assert {r.content for _, r in replies} == {"答：/greet"}

    run(scenario)


# ---------------------------------------------------------------- message kinds ---------------


def test_subscribe_greets_with_numbered_options() -> None:
    async def scenario() -> None:
        async with Harness() as h:
            h.assistant.answer = lambda m: [
                {
                    "text": "您好，我是通办助手。",
                    "buttons": [
                        {"title": "在外地能领结婚证吗？", "payload": "在外地能领结婚证吗？"},
                        {"title": "异地就医怎么备案？", "payload": "异地就医怎么备案？"},
                    ],
                }
            ]
            _, reply = await h.send(h.peer.event(OPENID, "subscribe"))
            assert h.assistant.messages[0].text == kinds.WELCOME_INTENT
            assert h.assistant.messages[0].metadata["wechat"]["event"] == "subscribe"
            assert reply.content == (
                "您好，我是通办助手。\n\n回复 1 在外地能领结婚证吗？\n回复 2 异地就医怎么备案？"
            )
            h.assistant.answer = lambda m: [{"text": f"答：{m.text}"}]
            _, reply = await h.send(h.peer.text(OPENID, "2"))
            assert reply.content == "答：异地就医怎么备案？"

    run(scenario)


def test_numbered_options_round_trip_to_their_payloads() -> None:
    reply = Reply(
        lead="您想办哪一项？",
        options=(Option.item("marriage_registration", "结婚登记"), Option.call()),
        follow_ups=(Option.ask("要带什么材料？"),),
    )

    async def scenario() -> None:
        async with Harness() as h:
            h.assistant.answer = lambda m: [
                {"text": "…", "custom": {"tongban": {"reply": reply.to_dict(), "expanded": False}}}
            ]
            _, first = await h.send(h.peer.text(OPENID, "结婚"))
            assert first.content.endswith("回复 1 结婚登记\n回复 2 要带什么材料？\n电话：12345")
            h.assistant.answer = lambda m: [{"text": "好的"}]
            await h.send(h.peer.text(OPENID, "1"))
            await h.send(h.peer.text(OPENID, "1"))  # the second turn had no options: plain "1"
            texts = [m.text for m in h.assistant.messages]
            assert texts == ["结婚", '/inform{"item":"marriage_registration"}', "1"]

    run(scenario)


def test_unsubscribe_deletes_the_conversation_and_replies_nothing(tmp_path) -> None:
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import SlotSet, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    from tongban.stores.tracker import RedactingSQLTrackerStore

    store = RedactingSQLTrackerStore(Domain.empty(), dialect="sqlite", db=str(tmp_path / "t.db"))

    async def scenario() -> None:
        async with Harness(store=store) as h:
            h.assistant.answer = lambda m: [
                {
                    "text": "选一项",
                    "buttons": [{"title": "结婚登记", "payload": "item:marriage_registration"}],
                }
            ]
            await h.send(h.peer.text(OPENID, "结婚"))
            tracker = DialogueStateTracker.from_events(
                OPENID, [UserUttered("结婚"), SlotSet("case_verified", "gAAAAA" + "x" * 80)]
            )
            await store.save(tracker)
            other = DialogueStateTracker.from_events("someone_else", [UserUttered("你好")])
            await store.save(other)
            status, reply = await h.send(h.peer.event(OPENID, "unsubscribe"))
            assert status == 200 and reply is None
            gone = await store.retrieve(OPENID)
            assert gone is None or not gone.events
            assert (await store.retrieve("someone_else")).events
            assert await h.channel.options.payload(OPENID, 1) is None
            assert len(h.assistant.messages) == 1  # unsubscribe never reaches the assistant

    run(scenario)


def test_menu_clicks_send_their_payload() -> None:
    async def scenario() -> None:
        async with Harness() as h:
            await h.send(h.peer.event(OPENID, "CLICK", "CASE_STATUS"))
            await h.send(
                h.peer.event(OPENID, "CLICK", "ITEM_MARRIAGE", create_time=int(time.time()) + 1)
            )
            _, unknown = await h.send(
                h.peer.event(OPENID, "CLICK", "NO_SUCH_KEY", create_time=int(time.time()) + 2)
            )
            assert [m.text for m in h.assistant.messages] == [
                "/case_status",
                '/inform{"item":"marriage_registration"}',
            ]
            assert h.assistant.messages[0].metadata["wechat"] == {
                "msg_type": "event", "event": "CLICK", "event_key": "CASE_STATUS"
            }  # fmt: skip
            assert unknown.content == kinds.UNKNOWN_MENU

    run(scenario)


def test_location_sets_the_place_from_the_label() -> None:
    async def scenario() -> None:
        async with Harness() as h:
            await h.send(h.peer.location(OPENID, "广东省深圳市南山区科技园中一路"))
            await h.send(h.peer.location(OPENID, "北京市朝阳区建国路88号"))
            _, reply = await h.send(h.peer.location(OPENID, "某某小区"))
            assert [m.text for m in h.assistant.messages] == ["我在广东省深圳市", "我在北京市"]
            assert reply.content == kinds.NOT_A_PLACE

    run(scenario)


def test_voice_with_and_without_recognition_and_other_kinds() -> None:
    async def scenario() -> None:
        async with Harness() as h:
            _, heard = await h.send(h.peer.voice(OPENID, "在深圳能领结婚证吗"))
            _, unheard = await h.send(h.peer.voice(OPENID, ""))
            _, image = await h.send(h.peer.image(OPENID))
            assert heard.content == "答：在深圳能领结婚证吗"
            assert unheard.content == kinds.PLEASE_TYPE
            assert image.content == kinds.TEXT_ONLY
            assert [m.text for m in h.assistant.messages] == ["在深圳能领结婚证吗"]
            assert h.assistant.messages[0].metadata["wechat"] == {"msg_type": "voice"}

    run(scenario)


def test_a_view_event_is_answered_with_success_only() -> None:
    async def scenario() -> None:
        async with Harness() as h:
            status, reply = await h.send(h.peer.event(OPENID, "VIEW", "https://www.gov.cn/"))
            assert (status, reply) == (200, None)
            assert h.assistant.messages == []

    run(scenario)


# ---------------------------------------------------------------- long answers ----------------


def test_a_3000_character_answer_is_split_passive_first_then_pushed() -> None:
    long = "\n".join("跨省通办" * 10 for _ in range(80))[:3000]  # about 8,900 bytes
    assert len(long) == 3000

    async def scenario() -> None:
        async with Harness() as h:
            h.assistant.answer = lambda m: [{"text": long}]
            _, first = await h.send(h.peer.text(OPENID, "长答案"))
            parts = [first.content, *await h.pushed(4)]
            assert len(parts) == 5
            assert all(utf8_len(p) <= MAX_REPLY_BYTES for p in parts)
            assert all(p.endswith(CONTINUED) for p in parts[:-1])
            joined = "\n".join(p.removesuffix(CONTINUED) for p in parts)
            assert joined == long

    run(scenario)


def test_pushes_stop_at_the_quota() -> None:
    async def scenario() -> None:
        async with Harness() as h:
            h.assistant.answer = lambda m: [{"text": "答" * 5000}]  # 15,000 bytes: 8 parts
            await h.send(h.peer.text(OPENID, "很长"))
            pushed = await h.pushed(5)
            await asyncio.sleep(0.2)
            assert len(pushed) == 5 == len(h.stub.sent)

    run(scenario)


def test_json_of_the_stub_is_what_tencent_expects() -> None:
    async def scenario() -> None:
        async with Harness(deadline=0.2) as h:
            h.assistant.delay = 0.3
            await h.send(h.peer.text(OPENID, "x"))
            await h.pushed(1)
            body = dict(h.stub.sent[0])
            assert body.pop("access_token") == "stub-token-1"
            assert json.loads(json.dumps(body)) == {
                "touser": OPENID, "msgtype": "text", "text": {"content": "答：x"}
            }  # fmt: skip

    run(scenario)
