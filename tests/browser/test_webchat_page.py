"""The citizens' web chat in a real browser (issue 5 §3), against the real Rasa and action servers.

Each test gets a fresh browser context; the servers start once for the whole run (see conftest).
"""

from __future__ import annotations

import json
import re
import sqlite3
import time

import requests
from playwright.sync_api import Page, expect

from tests.browser.conftest import Servers, Watched, open_context, screenshot

MARRIAGE = "我在深圳，能领结婚证吗"
XSS = "<img src=x onerror=alert(1)>"
ANSWER_TIMEOUT = 45_000  # ms; the first answer after start-up warms the models up


def bot_messages(page: Page):
    return page.locator("#log .msg.bot")


def wait_for_greeting(page: Page) -> None:
    """A new conversation opens with the assistant's greeting and its suggested questions."""
    expect(bot_messages(page).first.locator(".quick-reply").first).to_be_visible(
        timeout=ANSWER_TIMEOUT
    )
    expect(page.locator("#typing")).to_be_hidden(timeout=ANSWER_TIMEOUT)


def ask(page: Page, text: str) -> None:
    """Type a question, send it with Enter, and wait until its answer has arrived in full."""
    before = bot_messages(page).count()
    page.get_by_label("输入您的问题").fill(text)
    page.get_by_label("输入您的问题").press("Enter")
    expect(bot_messages(page)).to_have_count(before + 1, timeout=ANSWER_TIMEOUT)
    expect(page.locator("#typing")).to_be_hidden(timeout=ANSWER_TIMEOUT)


def last_answer(page: Page):
    """The newest answer, as a locator that stays on it when more messages come."""
    message_id = bot_messages(page).last.get_attribute("data-id")
    return page.locator(f'#log .msg.bot[data-id="{message_id}"]')


def session_state(page: Page) -> dict:
    return json.loads(page.evaluate("() => sessionStorage.getItem('tongban.webchat.v1')"))


def record_typing_indicator(page: Page) -> None:
    """Remember whether the typing indicator was ever shown (answers can be quick)."""
    page.evaluate(
        """() => {
          window.__typingSeen = false;
          const typing = document.getElementById('typing');
          new MutationObserver(() => { if (!typing.hidden) window.__typingSeen = true; })
            .observe(typing, { attributes: true, attributeFilter: ['hidden'] });
        }"""
    )


def no_horizontal_scroll(page: Page) -> bool:
    return page.evaluate(
        """() => {
          const doc = document.documentElement, log = document.getElementById('log');
          return doc.scrollWidth <= doc.clientWidth && log.scrollWidth <= log.clientWidth;
        }"""
    )


# ---------------------------------------------------------------------------------------------


def test_make_run_prints_the_page_urls(servers: Servers) -> None:
    printed = servers.output.read_text(encoding="utf-8")
    assert f"网页聊天 / web chat: {servers.base}" in printed
    assert f"{servers.base}static/example-host.html" in printed
    page = requests.get(servers.base, timeout=10)
    assert page.status_code == 200
    assert "通办助手" in page.text


def test_marriage_question_quick_reply_and_history_after_reload(
    chat: Watched, servers: Servers
) -> None:
    page = chat.page
    page.goto(servers.base)
    log = page.locator("#log")
    expect(log).to_have_attribute("role", "log")
    expect(log).to_have_attribute("aria-live", "polite")
    wait_for_greeting(page)
    expect(page.get_by_label("输入您的问题")).to_be_focused()

    # Ask the marriage question: the answer, its lists and its separated sources.
    record_typing_indicator(page)
    ask(page, MARRIAGE)
    assert page.evaluate("() => window.__typingSeen"), "typing indicator never shown"
    answer = last_answer(page)
    expect(answer.locator(".bubble")).to_contain_text("结婚登记")
    expect(answer.locator(".bubble")).to_contain_text("深圳")
    expect(answer.locator(".part ul li").first).to_be_visible()  # "・" lines as a list
    sources = answer.locator(".sources")
    expect(sources).to_be_visible()
    expect(sources).to_contain_text("来源")
    link = sources.locator("a").first
    expect(link).to_have_attribute("href", re.compile(r"^https?://"))
    expect(link).to_have_attribute("rel", "noopener noreferrer")
    expect(link).to_have_attribute("target", "_blank")
    assert "来源" not in answer.locator(".part").all_inner_texts()[-1]  # not mixed into the answer
    screenshot(page, "01-marriage-answer")

    # Click a quick reply: its title is shown as the user's message and it gets its own answer.
    reply = answer.locator(".quick-reply").first
    title = reply.inner_text()
    before = bot_messages(page).count()
    reply.click()
    expect(page.locator("#log .msg.user").last.locator(".bubble")).to_have_text(title)
    expect(bot_messages(page)).to_have_count(before + 1, timeout=ANSWER_TIMEOUT)
    expect(page.locator("#typing")).to_be_hidden(timeout=ANSWER_TIMEOUT)
    expect(page.get_by_label("输入您的问题")).to_be_focused()
    expect(answer.locator(".quick-reply")).to_have_count(0)  # older suggestions are gone
    screenshot(page, "02-quick-reply")

    # Reload: the same transcript, the same conversation (session id), no second greeting.
    transcript = log.inner_text()
    session_id = session_state(page)["sessionId"]
    count = page.locator("#log .msg").count()
    page.reload()
    expect(page.locator("#log .msg")).to_have_count(count)
    assert log.inner_text() == transcript
    expect(page.locator("#log")).to_contain_text(MARRIAGE)
    page.wait_for_function(
        "() => !document.getElementById('status').textContent.includes('正在连接')"
    )
    assert session_state(page)["sessionId"] == session_id
    # ...and the conversation goes on where it was: this question relies on the remembered item.
    ask(page, "要带什么材料")
    expect(bot_messages(page).last.locator(".bubble")).to_contain_text("身份证")
    assert session_state(page)["sessionId"] == session_id
    screenshot(page, "03-after-reload")
    assert chat.errors == []


def test_rating_with_reason_is_stored(chat: Watched, servers: Servers) -> None:
    page = chat.page
    page.goto(servers.base)
    wait_for_greeting(page)
    ask(page, MARRIAGE)
    before = servers.summary()

    answer = last_answer(page)
    down = answer.get_by_role("button", name="差评：没帮助")
    down.click()
    expect(down).to_have_attribute("aria-pressed", "true")
    expect(answer.locator(".rating-status")).to_have_text("感谢您的评价！")
    after_click = servers.summary()
    assert after_click["down"] == before["down"] + 1

    reason = "希望写明婚姻登记处的地址"
    answer.get_by_label("补充原因（可选，最多 500 字）").fill(reason)
    answer.get_by_role("button", name="提交原因").click()
    expect(answer.locator(".rating-status")).to_have_text("已收到您的意见，谢谢！")
    expect(down).to_be_focused()

    # Rating the same answer again replaces the rating: still one vote for this answer.
    summary = servers.summary()
    assert summary["down"] == before["down"] + 1
    assert summary["total"] == before["total"] + 1
    session_id = session_state(page)["sessionId"]
    message_id = answer.get_attribute("data-id")
    with sqlite3.connect(servers.feedback_db) as conn:
        row = conn.execute(
            "SELECT rating, reason FROM feedback WHERE session_id = ? AND message_id = ?",
            (session_id, message_id),
        ).fetchone()
    assert row == ("down", reason)

    # The rating is part of the history too.
    page.reload()
    expect(bot_messages(page).last.get_by_role("button", name="差评：没帮助")).to_have_attribute(
        "aria-pressed", "true"
    )
    screenshot(page, "04-rated")


def test_html_in_a_message_is_shown_as_text(chat: Watched, servers: Servers) -> None:
    page = chat.page
    page.goto(servers.base)
    wait_for_greeting(page)
    ask(page, XSS)
    mine = page.locator("#log .msg.user").last.locator(".bubble")
    expect(mine).to_have_text(XSS)
    assert page.locator("#log img").count() == 0
    time.sleep(0.5)  # an onerror handler would fire right after the image failed to load
    assert chat.dialogs == []
    screenshot(page, "05-html-as-text")

    # The renderer itself, on hostile bot text: no markup, no javascript: links.
    rendered = page.evaluate(
        """async () => {
          const { renderBotParts } = await import('./static/render.js');
          const bubble = document.createElement('div');
          renderBotParts(bubble, [
            '<b>粗体</b><script>alert(2)</script>\\n・javascript:alert(3) 与 https://example.gov.cn/a?b=1。',
            '1. 第一步\\n2. 第二步',
            '来源：\\n[1] 《文件》 http://example.gov.cn/x',
          ]);
          return {
            html: bubble.innerHTML,
            elements: [...bubble.querySelectorAll('*')].map(e => e.tagName.toLowerCase()),
            links: [...bubble.querySelectorAll('a')].map(a => a.href),
            text: bubble.textContent,
          };
        }"""
    )
    assert set(rendered["elements"]) <= {"div", "p", "br", "ul", "ol", "li", "a", "section"}
    assert "<b>" not in rendered["html"]
    assert "&lt;b&gt;粗体&lt;/b&gt;" in rendered["html"]
    assert rendered["links"] == ["https://example.gov.cn/a?b=1", "http://example.gov.cn/x"]
    assert "<script>alert(2)</script>" in rendered["text"]
    assert chat.dialogs == []


def test_elder_mode_makes_text_larger_and_is_remembered(chat: Watched, servers: Servers) -> None:
    page = chat.page
    page.goto(servers.base)
    wait_for_greeting(page)
    bubble = bot_messages(page).first.locator(".bubble")

    def size() -> tuple[float, float]:
        return bubble.evaluate(
            """(el) => {
              const style = getComputedStyle(el.querySelector('p') || el);
              return [parseFloat(style.fontSize), parseFloat(style.lineHeight)];
            }"""
        )

    normal_font, _ = size()
    toggle = page.get_by_role("button", name="长辈模式")
    expect(toggle).to_have_attribute("aria-pressed", "false")
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "true")
    large_font, large_line = size()
    assert large_font >= normal_font * 1.3, (normal_font, large_font)
    assert large_line >= large_font * 1.3, (large_font, large_line)
    input_font = page.get_by_label("输入您的问题").evaluate(
        "(el) => parseFloat(getComputedStyle(el).fontSize)"
    )
    assert input_font >= 20
    screenshot(page, "06-elder-mode")

    page.reload()
    expect(page.get_by_role("button", name="长辈模式")).to_have_attribute("aria-pressed", "true")
    assert size()[0] == large_font
    page.get_by_role("button", name="长辈模式").click()
    assert size()[0] == normal_font


def test_keyboard_only_use_and_labelled_controls(chat: Watched, servers: Servers) -> None:
    page = chat.page
    page.goto(servers.base)
    wait_for_greeting(page)
    for control in page.locator("button:visible, textarea:visible").all():
        expect(control).to_have_accessible_name(re.compile(r"\S"))
    expect(page.get_by_role("log")).to_have_accessible_name("对话记录")

    # The input box has focus; Tab reaches the send button.
    expect(page.get_by_label("输入您的问题")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="发送")).to_be_focused()

    # A suggested question chosen with the keyboard: sent, and focus goes back to the input box.
    suggestion = bot_messages(page).first.locator(".quick-reply").first
    title = suggestion.inner_text()
    suggestion.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#log .msg.user").last).to_contain_text(title)
    expect(page.get_by_label("输入您的问题")).to_be_focused()
    expect(bot_messages(page)).to_have_count(2, timeout=ANSWER_TIMEOUT)

    # Shift+Enter is a new line, Enter sends.
    box = page.get_by_label("输入您的问题")
    box.type("第一行")
    page.keyboard.press("Shift+Enter")
    box.type("第二行")
    expect(box).to_have_value("第一行\n第二行")
    page.keyboard.press("Enter")
    expect(page.locator("#log .msg.user").last.locator(".bubble")).to_have_text("第一行\n第二行")
    expect(box).to_have_value("")
    expect(page.locator("#typing")).to_be_hidden(timeout=ANSWER_TIMEOUT)


def test_layout_at_360px(browser, servers: Servers) -> None:
    context, page, _, errors = open_context(
        browser, viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True
    )
    try:
        page.goto(servers.base)
        wait_for_greeting(page)
        ask(page, MARRIAGE)  # long lines and long source URLs
        assert no_horizontal_scroll(page)
        for control in (page.get_by_label("输入您的问题"), page.get_by_role("button", name="发送")):
            expect(control).to_be_visible()
            box = control.bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= 360, box
            assert box["y"] + box["height"] <= 740, box
        screenshot(page, "07-mobile-360")
        page.get_by_role("button", name="长辈模式").click()
        assert no_horizontal_scroll(page)
        expect(page.get_by_label("输入您的问题")).to_be_in_viewport()
        screenshot(page, "08-mobile-360-elder")
        assert errors == []
    finally:
        context.close()


def test_network_drop_keeps_unsent_messages_and_reconnects(chat: Watched, servers: Servers) -> None:
    page = chat.page
    page.goto(servers.base)
    wait_for_greeting(page)
    status = page.locator("#status")

    chat.context.set_offline(True)
    expect(status).to_contain_text("网络已断开")
    page.get_by_label("输入您的问题").fill(MARRIAGE)
    page.get_by_role("button", name="发送").click()
    waiting = page.locator("#log .msg.user.pending")
    expect(waiting).to_have_count(1)
    expect(waiting).to_contain_text("等待发送")
    screenshot(page, "09-offline-queued")
    before = bot_messages(page).count()

    chat.context.set_offline(False)
    expect(bot_messages(page)).to_have_count(before + 1, timeout=ANSWER_TIMEOUT)
    expect(bot_messages(page).last.locator(".bubble")).to_contain_text("结婚登记")
    expect(waiting).to_have_count(0)
    assert all(
        item["status"] == "sent" for item in session_state(page)["items"] if item["type"] == "user"
    )


def test_server_down_shows_a_clear_message_then_recovers(chat: Watched, servers: Servers) -> None:
    page = chat.page
    page.route("**/socket.io/**", lambda route: route.abort("connectionrefused"))
    page.goto(servers.base)
    status = page.locator("#status")
    expect(status).to_contain_text("暂时连接不上通办助手服务器")
    expect(status).to_contain_text("12345")
    expect(status).to_have_attribute("role", "status")
    page.get_by_label("输入您的问题").fill("能领结婚证吗")
    page.get_by_label("输入您的问题").press("Enter")
    expect(page.locator("#log .msg.user.pending")).to_have_count(1)
    screenshot(page, "10-server-down")

    page.unroute("**/socket.io/**")
    wait_for_greeting(page)
    expect(page.locator("#log .msg.user.pending")).to_have_count(0, timeout=ANSWER_TIMEOUT)
    expect(bot_messages(page).last).to_contain_text("结婚", timeout=ANSWER_TIMEOUT)


def test_widget_embeds_in_another_site_with_one_script_tag(
    chat: Watched, servers: Servers, host_site
) -> None:
    """A page of another origin (127.0.0.1, another port) with one <script> tag for the widget."""
    page = chat.page
    page.goto(host_site)
    launcher = page.get_by_role("button", name="通办助手在线咨询")
    expect(launcher).to_have_attribute("aria-expanded", "false")
    launcher.click()
    expect(launcher).to_have_attribute("aria-expanded", "true")
    frame = page.frame_locator("iframe[title='通办助手在线咨询']")
    expect(frame.locator(".msg.bot .quick-reply").first).to_be_visible(timeout=ANSWER_TIMEOUT)
    expect(frame.get_by_label("输入您的问题")).to_be_focused()
    frame.get_by_label("输入您的问题").fill(MARRIAGE)
    frame.get_by_label("输入您的问题").press("Enter")
    expect(frame.locator(".msg.bot")).to_have_count(2, timeout=ANSWER_TIMEOUT)
    expect(frame.locator(".msg.bot").last).to_contain_text("结婚登记")
    screenshot(page, "11-widget-open")

    # Escape (or the ✕ button) closes the panel and gives focus back to the launcher.
    frame.get_by_label("输入您的问题").press("Escape")
    expect(launcher).to_have_attribute("aria-expanded", "false")
    expect(launcher).to_be_focused()
    expect(page.locator("iframe[title='通办助手在线咨询']")).to_be_hidden()
    screenshot(page, "12-widget-closed")
    assert chat.dialogs == []


def test_example_host_page_on_a_phone(browser, servers: Servers) -> None:
    context, page, _, errors = open_context(
        browser, viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True
    )
    try:
        page.goto(f"{servers.base}static/example-host.html")
        page.get_by_role("button", name="通办助手在线咨询").click()
        frame = page.frame_locator("iframe[title='通办助手在线咨询']")
        expect(frame.locator(".msg.bot .quick-reply").first).to_be_visible(timeout=ANSWER_TIMEOUT)
        box = page.locator("iframe[title='通办助手在线咨询']").bounding_box()
        assert box == {"x": 0, "y": 0, "width": 360, "height": 740}  # full screen on a phone
        screenshot(page, "13-example-host-phone")
        frame.get_by_role("button", name="关闭在线咨询").click()
        expect(page.get_by_role("button", name="通办助手在线咨询")).to_be_focused()
        assert errors == []
    finally:
        context.close()
