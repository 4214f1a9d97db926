"""Human handoff in a real browser (issue 15 §2): a citizen in the widget asks for a person, an
agent in a second browser context takes the conversation in the console and replies, the citizen
sees the reply (also after a reload, once), the bot stays silent meanwhile, and the agent hands
back to the bot, which answers again.

The servers are started for this module alone by tools/run.sh on free ports, with their own
handoff, console and tracker databases and service hours "always", so the test passes at any
hour and a `make run` is left alone. Screenshots go to tests/artifacts/.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import open_context, run_servers, screenshot, tongban_command

AGENT = "agent07"
PASSWORD = "handoff-demo-2026"
TIMEOUT = 45_000  # ms; the first answers after start-up warm the models up


@dataclass
class Servers:
    chat: str  # http://localhost:<port>/webhooks/webchat/
    console: str  # http://localhost:<port>/console/
    folder: Path


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    yield from _start(tmp_path_factory, "always")


@pytest.fixture(scope="module")
def after_hours(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    yield from _start(tmp_path_factory, "never")


def _start(tmp_path_factory: pytest.TempPathFactory, hours: str) -> Iterator[Servers]:
    folder = tmp_path_factory.mktemp("handoff")

    def prepare(env: dict[str, str]) -> None:
        tongban_command(
            ["staff", "add", AGENT, "--role", "agent", "--password-stdin"], env, PASSWORD + "\n"
        )

    with run_servers(folder, {"TONGBAN_HANDOFF_HOURS": hours}, prepare=prepare) as started:
        yield Servers(started.url("webhooks/webchat/"), started.url("console/"), folder)


def bot_messages(page: Page):
    return page.locator("#log .msg.bot")


def say(page: Page, text: str) -> None:
    box = page.get_by_label("输入您的问题")
    box.fill(text)
    box.press("Enter")


def test_a_citizen_reaches_an_agent_and_is_handed_back(browser: Browser, servers: Servers) -> None:
    citizen_ctx, citizen, _, citizen_errors = open_context(
        browser, viewport={"width": 480, "height": 820}
    )
    agent_ctx, agent, agent_dialogs, agent_errors = open_context(
        browser, viewport={"width": 1280, "height": 900}
    )
    try:
        # The citizen asks for a person and is told their place in the queue.
        citizen.goto(servers.chat)
        expect(bot_messages(citizen).first.locator(".quick-reply").first).to_be_visible(
            timeout=TIMEOUT
        )
        say(citizen, "转人工")
        banner = citizen.locator("#handoff-banner")
        expect(banner).to_contain_text("您是下一位", timeout=TIMEOUT)
        expect(bot_messages(citizen).last).to_contain_text("排队")
        screenshot(citizen, "handoff-citizen-queued")

        # The agent signs in and sees the conversation in the queue.
        agent.goto(servers.console)
        agent.get_by_label("账号").fill(AGENT)
        agent.get_by_label("密码").fill(PASSWORD)
        agent.get_by_role("button", name="登录").click()
        expect(agent.locator("#who")).to_contain_text(AGENT, timeout=TIMEOUT)
        agent.get_by_role("link", name="会话").click()
        expect(agent).to_have_url(f"{servers.console}conversations/")
        queued = agent.locator("#queued li[data-ticket] button.open")
        expect(queued).to_have_count(1, timeout=TIMEOUT)
        expect(queued).to_contain_text("网页聊天")
        queued.click()
        expect(agent.locator("#transcript")).to_contain_text("转人工", timeout=TIMEOUT)
        agent.get_by_role("button", name="接入").click()
        expect(agent.locator("#conv-state")).to_contain_text("接待中", timeout=TIMEOUT)
        expect(agent.locator("#active li[data-ticket]")).to_have_count(1, timeout=TIMEOUT)

        # The citizen is told a person has joined; the agent's reply reaches the widget.
        expect(banner).to_contain_text("人工客服正在为您服务", timeout=TIMEOUT)
        agent.get_by_label("回复市民").fill("您好，我是人工客服，请问您要办什么业务？")
        agent.get_by_label("回复市民").press("Enter")
        reply = citizen.locator("#log .msg.bot.agent")
        expect(reply).to_have_count(1, timeout=TIMEOUT)
        expect(reply).to_contain_text("您好，我是人工客服")
        expect(reply.locator(".agent-name")).to_contain_text(f"坐席 {AGENT}")
        expect(agent.get_by_label("回复市民")).to_have_value("")
        screenshot(citizen, "handoff-citizen-agent-reply")

        # While the agent has it, the bot is silent: the citizen's message reaches the agent only.
        before = bot_messages(citizen).count()
        say(citizen, "我在深圳，能领结婚证吗")
        expect(agent.locator("#transcript .citizen").last).to_contain_text(
            "能领结婚证吗", timeout=TIMEOUT
        )
        expect(citizen.locator("#typing")).to_be_hidden(timeout=TIMEOUT)
        citizen.wait_for_timeout(1500)
        assert bot_messages(citizen).count() == before
        screenshot(agent, "handoff-console-conversation")

        # A reload keeps the thread and shows the agent's reply once.
        citizen.reload()
        expect(citizen.locator("#log .msg.bot.agent")).to_have_count(1, timeout=TIMEOUT)
        expect(citizen.locator("#log .msg.user").last).to_contain_text("能领结婚证吗")
        expect(citizen.locator("#handoff-banner")).to_contain_text("人工客服正在为您服务")
        agent.get_by_label("回复市民").fill("可以在深圳办理，稍后通办助手会告诉您要带的材料。")
        agent.get_by_label("回复市民").press("Enter")
        expect(citizen.locator("#log .msg.bot.agent")).to_have_count(2, timeout=TIMEOUT)

        # The agent hands back; the bot answers again.
        agent.get_by_role("button", name="交还通办助手").click()
        expect(agent.locator("#conv-state")).to_contain_text("已交还", timeout=TIMEOUT)
        expect(citizen.locator("#log .msg.bot.handoff-status").last).to_contain_text(
            "通办助手继续为您解答", timeout=TIMEOUT
        )
        expect(citizen.locator("#handoff-banner")).to_be_hidden()
        before = bot_messages(citizen).count()
        say(citizen, "我在深圳，能领结婚证吗")
        expect(bot_messages(citizen)).to_have_count(before + 1, timeout=TIMEOUT)
        expect(bot_messages(citizen).last).to_contain_text("结婚")
        screenshot(citizen, "handoff-citizen-handed-back")
        expect(citizen.locator("#log .msg.bot.agent")).to_have_count(2)

        # A thumbs-down (没帮助) offers a person again, and the conversation queues again.
        answer_id = bot_messages(citizen).last.get_attribute("data-id")
        answer = citizen.locator(f'#log .msg.bot[data-id="{answer_id}"]')
        answer.get_by_role("button", name="差评：没帮助").click()
        offer = answer.get_by_role("button", name="问题没解决？转人工客服")
        expect(offer).to_be_visible(timeout=TIMEOUT)
        offer.click()
        expect(citizen.locator("#handoff-banner")).to_contain_text("您是下一位", timeout=TIMEOUT)
        expect(agent.locator("#queued li[data-ticket]")).to_have_count(1, timeout=TIMEOUT)
        assert not citizen_errors and not agent_errors and not agent_dialogs
    finally:
        citizen_ctx.close()
        agent_ctx.close()


def rest(servers: Servers, sender: str, text: str) -> str:
    reply = requests.post(
        servers.chat.replace("/webchat/", "/rest/webhook"),
        json={"sender": sender, "message": text},
        timeout=60,
    )
    assert reply.status_code == 200, reply.text
    return "\n".join(m.get("text") or "" for m in reply.json())


def test_after_hours_a_citizen_leaves_a_number_for_a_callback(after_hours: Servers) -> None:
    """Outside service hours: 12345, then the number is asked for, checked, stored sealed and
    shown masked to agents; "不用了" and a question about an item leave the form."""
    offer = rest(after_hours, "caller-1", "转人工")
    assert "12345" in offer and "手机号" in offer
    assert "不完整" in rest(after_hours, "caller-1", "138001")
    saved = rest(after_hours, "caller-1", "我的手机是 138 0013 8000")
    assert "138****8000" in saved
    assert "12345" in rest(after_hours, "caller-2", "找人工客服")
    assert "不留电话" in rest(after_hours, "caller-2", "不用了")
    assert "12345" in rest(after_hours, "caller-3", "转人工")
    assert "结婚" in rest(after_hours, "caller-3", "我在深圳，能领结婚证吗")

    # The databases with their write-ahead logs, and the servers' logs.
    stored = {path.name: path.read_bytes() for path in after_hours.folder.glob("handoff.db*")}
    assert b"138****8000" in b"".join(stored.values())
    for name in ("tracker.db", "tracker.db-wal", "rasa.log", "actions.log"):
        path = after_hours.folder / name
        if path.exists():
            stored[name] = path.read_bytes()
    for name, raw in stored.items():
        assert b"13800138000" not in raw and b"138 0013 8000" not in raw, name
