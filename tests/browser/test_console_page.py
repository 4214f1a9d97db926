"""The hotline console in a real browser (issue 15 §1), against the real Rasa and action servers.

An agent signs in, searches 换驾照 with the keyboard, picks the caller's places (autocompleted)
and a date, reads the checklist, prints it and looks up a demo case (demo/cases.yaml); an admin
then finds that lookup in the audit log. The servers are started for this module alone by
tools/run.sh on free ports, with their own console, case, rating and answer databases, so a
`make run` and the webchat tests' servers are left alone. Screenshots go to tests/artifacts/.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import open_context, run_servers, screenshot, tongban_command
from tests.browser.test_webchat_page import ask, last_answer, wait_for_greeting

AGENT, ADMIN = "agent01", "admin01"
PASSWORD = "hotline-demo-2026"
TIMEOUT = 30_000  # ms


@dataclass
class Console:
    url: str  # http://localhost:<port>/console/
    output: Path


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    folder = tmp_path_factory.mktemp("console")

    def prepare(env: dict[str, str]) -> None:
        tongban_command(["cases", "import", "demo/cases.yaml"], env)
        for name, role in ((AGENT, "agent"), (ADMIN, "admin")):
            tongban_command(
                ["staff", "add", name, "--role", role, "--password-stdin"], env, PASSWORD + "\n"
            )

    console_entry = {
        "tongban.console.channel.ConsoleInput": {"feedback_db": str(folder / "feedback.db")}
    }
    with run_servers(folder, credentials=console_entry, prepare=prepare) as started:
        yield Console(started.url("console/"), started.output)


def sign_in(page: Page, console: Console, name: str) -> None:
    page.goto(console.url)
    expect(page).to_have_url(f"{console.url}login")
    page.get_by_label("账号").fill(name)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.locator("#who")).to_contain_text(name, timeout=TIMEOUT)


def test_make_run_prints_the_console_url_and_it_needs_a_login(console: Console) -> None:
    assert f"热线工作台 / console:     {console.url}" in console.output.read_text()
    page = requests.get(console.url, timeout=10, allow_redirects=False)
    assert page.status_code == 302 and page.headers["location"] == "/console/login"
    assert requests.get(f"{console.url}api/me", timeout=10).status_code == 401


def test_an_agent_answers_a_caller_and_looks_up_a_case(browser: Browser, console: Console) -> None:
    context, page, dialogs, errors = open_context(browser, viewport={"width": 1280, "height": 900})
    try:
        page.goto(console.url)
        expect(page.get_by_role("button", name="登录")).to_be_visible()
        screenshot(page, "console-login")
        sign_in(page, console, AGENT)
        # Agents do not see the audit log (the navigation may hold more sections, 会话 too).
        nav = page.locator("#shell nav a")
        for title in ("事项查询", "办件查询", "好差评"):
            expect(nav.filter(has_text=title)).to_have_count(1)
        expect(nav.filter(has_text="审计日志")).to_have_count(0)

        # Search with the keyboard alone.
        search = page.get_by_role("combobox", name="查找事项")
        expect(search).to_be_focused()
        search.press_sequentially("换驾照", delay=30)
        first = page.locator('#results [role="option"]').first
        expect(first).to_contain_text("驾驶证补领", timeout=TIMEOUT)
        expect(first).to_have_attribute("aria-selected", "true")
        expect(page.locator("#search-ms")).to_contain_text("ms")
        screenshot(page, "console-search")
        search.press("ArrowDown")
        search.press("ArrowUp")
        search.press("Enter")
        expect(page.locator("#card-title")).to_contain_text("驾驶证补领", timeout=TIMEOUT)
        expect(page.locator("#date")).to_have_value(time.strftime("%Y-%m-%d"))

        # The caller's places, autocompleted, and the date the caller asks about.
        home = page.get_by_label("户籍地（参保地）")
        home.fill("湖南")
        expect(page.locator('#home-list option[value="湖南省"]')).to_have_count(1, timeout=TIMEOUT)
        at = page.get_by_label("所在地（办理地）")
        at.fill("东莞")
        expect(page.locator('#at-list option[value="广东省东莞市"]')).to_have_count(
            1, timeout=TIMEOUT
        )
        at.fill("广东省东莞市")
        page.get_by_label("按哪一天的政策").fill("2024-01-15")
        page.get_by_role("button", name="更新").click()
        card = page.locator("#card")
        expect(card).to_contain_text("按 2024-01-15 的政策", timeout=TIMEOUT)
        expect(card).to_contain_text("户籍地 湖南省")
        expect(card).to_contain_text("所在地 广东省东莞市")
        expect(page.locator("#eligibility")).to_have_text("可以办理")
        checklist = page.locator(".part-documents .checklist li")
        expect(checklist.first).to_contain_text("居民身份证")
        expect(page.locator(".timeline li.current")).to_have_count(1)
        expect(page.locator(".part-sources li").first).to_contain_text("20")
        expect(card).to_contain_text("最近核实")
        screenshot(page, "console-card")
        page.evaluate("() => window.dispatchEvent(new Event('beforeprint'))")
        page.emulate_media(media="print")
        expect(page.locator("#q")).to_be_hidden()
        screenshot(page, "console-card-print")
        page.emulate_media(media="screen")
        page.evaluate("() => window.dispatchEvent(new Event('afterprint'))")

        # A case, with the caller's consent and verification.
        page.get_by_role("link", name="办件查询").click()
        page.get_by_label("办件编号").fill("SC2025110300342")
        page.get_by_label("后4位").fill("0032")
        page.get_by_role("button", name="查询").click()
        result = page.locator("#case-text")
        expect(result).to_contain_text("待补正", timeout=TIMEOUT)
        expect(result).not_to_contain_text("SC2025110300342")
        expect(result).not_to_contain_text("王强")
        page.get_by_role("button", name="查看办理记录").click()
        expect(page.locator("#case-history-text")).to_contain_text("已受理", timeout=TIMEOUT)
        screenshot(page, "console-case")
        assert not errors and not dialogs
    finally:
        context.close()

    # An admin finds the lookup in the audit log.
    context, page, dialogs, errors = open_context(browser, viewport={"width": 1280, "height": 900})
    try:
        sign_in(page, console, ADMIN)
        page.get_by_role("link", name="审计日志").click()
        rows = page.locator("#audit-rows tr")
        expect(rows.filter(has_text="case_lookup").first).to_contain_text(AGENT, timeout=TIMEOUT)
        expect(rows.filter(has_text="case_lookup").first).to_contain_text("found")
        expect(page.locator("#audit-rows")).not_to_contain_text("SC2025110300342")
        screenshot(page, "console-audit")
        page.get_by_role("link", name="好差评").click()
        expect(page.locator("#ratings-summary")).to_contain_text("条评价")
        page.get_by_role("button", name="退出登录").click()
        expect(page).to_have_url(f"{console.url}login", timeout=TIMEOUT)
        assert not errors and not dialogs
    finally:
        context.close()


def test_a_citizens_rating_reaches_the_editors_view(browser: Browser, console: Console) -> None:
    """👎 with a reason in the widget; the console shows it under the item and the answer rated."""
    context, page, dialogs, errors = open_context(browser, viewport={"width": 1280, "height": 900})
    try:
        page.goto(console.url.replace("/console/", "/webhooks/webchat/"))
        wait_for_greeting(page)
        ask(page, "我在深圳，能领结婚证吗")
        answer = last_answer(page)
        answer.get_by_role("button", name="差评：没帮助").click()
        reason = "没说婚姻登记处在哪"
        answer.get_by_label("补充原因（可选，最多 500 字）").fill(reason)
        answer.get_by_role("button", name="提交原因").click()
        expect(answer.locator(".rating-status")).to_have_text("已收到您的意见，谢谢！")
    finally:
        context.close()
    context, page, dialogs, errors = open_context(browser, viewport={"width": 1280, "height": 900})
    try:
        sign_in(page, console, ADMIN)
        page.get_by_role("link", name="好差评").click()
        group = page.locator(".rating-group").filter(has_text="结婚登记").first
        expect(group).to_contain_text("👎 1", timeout=TIMEOUT)
        expect(group.locator(".reasons")).to_contain_text(reason)
        screenshot(page, "console-ratings")
        export = page.request.get(f"{console.url}api/ratings.csv")
        assert export.status == 200 and reason in export.text()
        assert not errors and not dialogs
    finally:
        context.close()
