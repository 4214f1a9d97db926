"""Human handoff over WeChat: while an agent has the conversation the channel replies nothing
(not the "no answer" text), and the agent's messages go out through the customer-service API
(the stub of Tencent's API in tongban.wechat.simulator, called by the channel's real client)."""

from __future__ import annotations

import pytest
from sanic import Sanic

from tests.test_handoff import make_service
from tests.test_wechat_channel import OPENID, Harness, run
from tongban.channels.server import NO_ANSWER_REPLY
from tongban.handoff import channels as hooks


@pytest.fixture(autouse=True)
def _test_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Sanic, "test_mode", True)


def test_a_held_wechat_conversation_is_silent_and_gets_the_agents_messages(
    tmp_path, monkeypatch
) -> None:
    service, _, _, _ = make_service(tmp_path)
    monkeypatch.setattr(hooks, "hub", lambda: service)

    async def scenario() -> None:
        async with Harness() as h:
            h.assistant.answer = lambda message: []  # Rasa paused: no bot message
            status, reply = await h.send(h.peer.text(OPENID, "你好"))
            assert status == 200 and reply.content == NO_ANSWER_REPLY  # not held yet

            ticket = service.request(OPENID, "wechat").ticket
            await service.take(ticket, "agent1")
            status, reply = await h.send(h.peer.text(OPENID, "我的户口能迁过来吗"))
            assert status == 200 and reply is None  # "success": nothing shown
            assert len(h.assistant.messages) == 2  # still logged in Rasa's tracker

            _, delivered = await service.reply(ticket, "agent1", "您好，请讲", None)
            assert delivered
            pushed = await h.pushed(count=2)
            assert pushed[-1] == "您好，请讲" and "已接入" in pushed[0]
            assert {m["touser"] for m in h.stub.sent} == {OPENID}

    run(scenario)
