"""The citizens' web chat in a real browser (issue 5 §3), against the real Rasa and action servers.

Each test gets a fresh browser context; the servers start once for the whole run (see conftest).
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from urllib.parse import urlsplit

import pytest
import requests
from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import Servers, Watched, open_context, screenshot

MARRIAGE = "我在深圳，能领结婚证吗"
LONG_MARRIAGE = "我是江西人，在深圳打工，能领结婚证吗？要带什么？"
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


STORE_KEY = "tongban.webchat.v2"
MESSAGE_ID = re.compile(r"[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{22}")
SESSION_ID = re.compile(r"[A-Za-z0-9_-]{32,64}")


def session_state(page: Page) -> dict:
    return json.loads(page.evaluate(f"() => sessionStorage.getItem('{STORE_KEY}')"))


def user_items(page: Page) -> list[dict]:
    return [item for item in session_state(page)["items"] if item["type"] == "user"]


def record_announcements(page: Page) -> None:
    """Collect what the live region (#announcer) is given to read out."""
    page.evaluate(
        """() => {
          window.__announced = [];
          new MutationObserver((changes) => {
            for (const change of changes)
              for (const node of change.addedNodes) window.__announced.push(node.textContent);
          }).observe(document.getElementById('announcer'), { childList: true });
        }"""
    )


def announced(page: Page) -> list[str]:
    return page.evaluate("() => window.__announced")


def socketio_packets(body: str) -> list:
    """The Socket.IO events and acks in one Engine.IO long-polling body: [(kind, data), ...]."""
    packets = []
    for raw in body.split("\x1e"):
        match = re.match(r"4([23])(\d*)(\[.*)", raw, re.DOTALL)
        if match:
            kind = "event" if match.group(1) == "2" else "ack"
            packets.append((kind, match.group(2), raw, json.loads(match.group(3))))
    return packets


def user_uttered_sent(request) -> list[dict]:
    """The user_uttered payloads a socket.io POST carries."""
    if request.method != "POST" or "user_uttered" not in (request.post_data or ""):
        return []
    return [
        data[1]
        for kind, _, _, data in socketio_packets(request.post_data)
        if kind == "event" and data[0] == "user_uttered"
    ]


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


# Where a citizen may be sent: government sites and national state media (tongban/kb/official.py).
OFFICIAL_DOMAINS = (
    "gov.cn", "12371.cn", "people.com.cn", "xinhuanet.com", "news.cn", "cctv.com", "cctv.cn",
    "cnr.cn", "cri.cn", "gmw.cn", "ce.cn", "chinadaily.com.cn", "legaldaily.com.cn", "youth.cn",
    "qstheory.cn", "chinanews.com.cn",
)  # fmt: skip


def is_official(href: str) -> bool:
    parts = urlsplit(href)
    host = (parts.hostname or "").lower()
    return parts.scheme in ("http", "https") and any(
        host == domain or host.endswith("." + domain) for domain in OFFICIAL_DOMAINS
    )


def in_log_view(element: Locator, whole: bool = True) -> bool:
    """Whether `element` (all of it, or its first line) is inside the visible part of the log."""
    return element.evaluate(
        """(el, whole) => {
          const log = document.getElementById('log').getBoundingClientRect();
          const box = el.getBoundingClientRect();
          const bottom = whole ? box.bottom : Math.min(box.bottom, box.top + 20);
          return box.top >= log.top - 1 && bottom <= log.bottom + 1;
        }""",
        whole,
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
    # The log is re-rendered as an answer's parts come; each answer is read out once, whole.
    expect(log).to_have_attribute("aria-live", "off")
    expect(page.locator("#announcer")).to_have_attribute("aria-live", "polite")
    wait_for_greeting(page)
    expect(page.get_by_label("输入您的问题")).to_be_focused()

    # Ask the marriage question: a short answer with its list, read out once and whole.
    record_typing_indicator(page)
    record_announcements(page)
    ask(page, MARRIAGE)
    assert page.evaluate("() => window.__typingSeen"), "typing indicator never shown"
    answer = last_answer(page)
    expect(answer.locator(".lead")).to_contain_text("结婚登记")
    expect(answer.locator(".lead")).to_contain_text("深圳")
    expect(answer.locator(".reply .body li").first).to_be_visible()  # the short list
    expect(answer.locator("details.details")).not_to_have_attribute("open", "")
    [read_out] = announced(page)
    assert read_out.startswith("通办助手说：") and "结婚登记" in read_out

    # "详情": the same answer with its details open, the policy sources in their own section,
    # links that open safely.
    ask(page, "详情")
    answer = last_answer(page)
    expect(answer.locator("details.details")).to_have_attribute("open", "")
    sources = answer.locator(".sources")
    expect(sources).to_be_visible()
    expect(sources).to_contain_text("来源")
    link = sources.locator("a").first
    expect(link).to_have_attribute("href", re.compile(r"^https?://"))
    expect(link).to_have_attribute("rel", "noopener noreferrer")
    expect(link).to_have_attribute("target", "_blank")
    expect(answer.locator(".lead")).not_to_contain_text("来源")  # not mixed in
    assert len(announced(page)) == 2
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

    # Reload: the same transcript, the same conversation (session id), no second greeting, and
    # nothing already answered is sent again.
    transcript = log.inner_text()
    session_id = session_state(page)["sessionId"]
    assert SESSION_ID.fullmatch(session_id)
    count = page.locator("#log .msg").count()
    resent: list[dict] = []
    page.on("request", lambda request: resent.extend(user_uttered_sent(request)))
    page.reload()
    expect(page.locator("#log .msg")).to_have_count(count)
    assert log.inner_text() == transcript
    expect(page.locator("#log")).to_contain_text(MARRIAGE)
    page.wait_for_function(
        "() => !document.getElementById('status').textContent.includes('正在连接')"
    )
    assert session_state(page)["sessionId"] == session_id
    assert resent == []
    # ...and the conversation goes on where it was: this question relies on the remembered item.
    ask(page, "要带什么材料")
    assert [sent["message"] for sent in resent] == ["要带什么材料"]
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
    assert MESSAGE_ID.fullmatch(message_id)  # the id the server signed for this session
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

    # The renderer itself, on hostile bot text and a hostile Reply: no markup, no javascript:
    # links, a link only for a source's own http(s) url, and 12345 as a tel: link.
    rendered = page.evaluate(
        """async () => {
          const { renderBotParts } = await import('./static/render.js');
          const bubble = document.createElement('div');
          const evil = '<b>粗体</b><script>alert(2)</script>';
          const source = (url, repost, title) =>
            ({ title, issuer: '<i>国务院</i>', ref: '', date: '2025-04-06', url, repost });
          renderBotParts(bubble, [
            { text: evil + '\\n・javascript:alert(3) 与 https://example.gov.cn/a?b=1。' },
            { text: '1. 第一步\\n2. 第二步，或拨打12345。' },
            {
              reply: {
                lead: evil + '请拨打12345。',
                body: { kind: 'steps', title: '<u>步骤</u>', items: ['<a href=x>一</a>'] },
                sections: [{ kind: 'notes', title: '注意', items: ['见 https://evil.example/'] }],
                options: [], follow_ups: [],
                sources: [
                  source('javascript:alert(4)', false, '<svg onload=alert(5)>'),
                  source('https://www.gov.cn/x', true, '转载的'),
                  source('https://www.gov.cn/y', false, '原文'),
                ],
                meta: { item: null },
              },
              expanded: true,
            },
          ]);
          return {
            html: bubble.innerHTML,
            elements: [...bubble.querySelectorAll('*')].map(e => e.tagName.toLowerCase()),
            links: [...bubble.querySelectorAll('a')].map(a => a.href),
            text: bubble.textContent,
          };
        }"""
    )
    assert set(rendered["elements"]) <= {
        "div", "p", "br", "ul", "ol", "li", "a", "section", "details", "summary"
    }  # fmt: skip
    assert "<b>" not in rendered["html"] and "<svg" not in rendered["html"]
    assert "&lt;b&gt;粗体&lt;/b&gt;" in rendered["html"]
    assert rendered["links"] == [
        "https://example.gov.cn/a?b=1",  # a URL in a plain message
        "tel:12345",
        "tel:12345",
        "https://www.gov.cn/y",  # the one source with a link: not a repost, http(s)
    ]
    assert "<script>alert(2)</script>" in rendered["text"]
    assert "《<svg onload=alert(5)>》（<i>国务院</i>，2025年4月6日）" in rendered["text"]
    assert "转载来源：《转载的》" in rendered["text"]
    assert "https://evil.example/" in rendered["text"]  # a Reply's text is never linkified
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


# -- the structured answer (one Reply for every channel) ---------------------------------------


@pytest.mark.parametrize(
    ("width", "height"), [(360, 740), (1280, 800)], ids=["phone-360", "desktop-1280"]
)
def test_an_answer_is_a_lead_a_short_list_and_closed_details_with_sources(
    browser, servers: Servers, width: int, height: int
) -> None:
    phone = width < 480
    context, page, _, errors = open_context(
        browser, viewport={"width": width, "height": height}, is_mobile=phone, has_touch=phone
    )
    try:
        page.goto(servers.base)
        wait_for_greeting(page)
        record_announcements(page)
        ask(page, LONG_MARRIAGE)
        answer = last_answer(page)

        # The direct answer first, then one short list under its title; the text fallback is not
        # shown (no "回复“详情”" hint: the page has a details element instead).
        lead = answer.locator(".reply > p.lead")
        expect(lead).to_have_count(1)
        expect(lead).to_contain_text("结婚登记")
        expect(lead).to_contain_text("深圳")
        body = answer.locator(".reply > .body")
        expect(body.locator(".section-title")).to_have_text("需要带")
        assert 1 <= body.locator("li").count() <= 6
        expect(body.locator("li").first).to_contain_text("身份证")
        expect(answer.locator(".bubble")).not_to_contain_text("回复“详情”")
        assert "来源" not in answer.locator(".bubble").inner_text().replace("详情和来源", "")

        # Details and sources are folded away, in a closed <details>.
        details = answer.locator("details.details")
        expect(details).to_have_count(1)
        expect(details).not_to_have_attribute("open", "")
        summary = details.locator("summary")
        expect(summary).to_have_text("详情和来源")
        expect(details.locator(".sources")).to_be_hidden()
        expect(details.locator(".section").first).to_be_hidden()

        # An item answer can be rated; its suggested questions are buttons.
        expect(answer.locator(".rating")).to_be_visible()
        expect(answer.locator("button.quick-reply").first).to_be_visible()

        # The question is still in view and the answer is read from its lead.
        assert in_log_view(page.locator("#log .msg.user").last)
        assert in_log_view(lead, whole=False)

        # Read out once: the lead (and the short list), never the details.
        lead_text = lead.inner_text()
        [read_out] = announced(page)
        assert read_out.count(lead_text) == 1, read_out
        assert "身份证" in read_out
        assert "办理步骤" not in read_out and "来源" not in read_out
        assert no_horizontal_scroll(page)
        screenshot(page, f"reply-{width}")

        # Opened: the sections and the sources, compact, with links only to official sites.
        summary.click()
        expect(details).to_have_attribute("open", "")
        sources = details.locator(".sources")
        expect(sources).to_be_visible()
        expect(details.locator(".section-title", has_text="办理步骤")).to_be_visible()
        items = sources.locator("li.source")
        assert items.count() >= 2
        links = sources.locator("a")
        assert links.count() >= 1
        for link in links.all():
            href = link.get_attribute("href")
            assert is_official(href), href
            expect(link).to_have_attribute("target", "_blank")
            expect(link).to_have_attribute("rel", "noopener noreferrer")
        # No other link anywhere in the answer's text (12345 would be a tel: link).
        for link in answer.locator(".reply a").all():
            href = link.get_attribute("href")
            assert href == "tel:12345" or is_official(href), href
        reposts = sources.locator("li.source.repost")
        assert reposts.count() >= 1
        for repost in reposts.all():
            expect(repost).to_contain_text(re.compile(r"^转载来源：《"))
            expect(repost.locator("a")).to_have_count(0)
        for text in items.all_inner_texts():
            assert re.search(r"《.+》（.+，\d{4}年\d{1,2}月(\d{1,2}日)?）$", text), text
            assert not re.search(r"\d{4}-\d{2}", text), text  # dates as 2025年4月6日
        assert no_horizontal_scroll(page)
        sources.scroll_into_view_if_needed()
        screenshot(page, f"reply-{width}-details")

        if phone:  # 长辈模式 on a phone: large, still no horizontal scrolling
            page.get_by_role("button", name="长辈模式").click()
            assert no_horizontal_scroll(page)
            sources.scroll_into_view_if_needed()
            screenshot(page, f"reply-{width}-elder-details")
        assert len(announced(page)) == 1  # opening the details reads nothing out again
        assert errors == []
    finally:
        context.close()


def test_a_long_answer_starts_at_its_question_and_lead(browser, servers: Servers) -> None:
    """In 长辈模式 on a phone the answer with its details open is far taller than the log: the
    question stays in view and the answer starts at its lead, not at its end."""
    context, page, _, errors = open_context(
        browser, viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True
    )
    try:
        context.add_init_script("localStorage.setItem('tongban.webchat.elder', '1')")
        page.goto(servers.base)
        wait_for_greeting(page)
        ask(page, LONG_MARRIAGE)
        ask(page, "详情")
        answer = last_answer(page)
        expect(answer.locator("details.details")).to_have_attribute("open", "")
        assert answer.evaluate("(el) => el.offsetHeight") > page.locator("#log").evaluate(
            "(el) => el.clientHeight"
        )
        question = page.locator("#log .msg.user").last
        expect(question).to_contain_text("详情")
        assert in_log_view(question)
        assert in_log_view(answer.locator(".lead"), whole=False)
        screenshot(page, "reply-360-elder-long")
        assert errors == []
    finally:
        context.close()


def test_tapping_an_option_sends_its_payload_but_shows_its_title(
    chat: Watched, servers: Servers
) -> None:
    page = chat.page
    sent: list[dict] = []
    page.on("request", lambda request: sent.extend(user_uttered_sent(request)))
    page.goto(servers.base)
    wait_for_greeting(page)
    ask(page, "公积金")  # a clarifying menu: which item?
    menu = last_answer(page)
    expect(menu.locator(".lead")).to_contain_text("哪一项")
    expect(menu.locator(".quick-replies")).to_have_attribute("aria-label", "请选择")
    expect(menu.locator(".rating")).to_have_count(0)
    option = menu.locator("button.quick-reply").first
    title = option.inner_text()
    assert 0 < len(title) <= 12

    before = bot_messages(page).count()
    option.click()
    mine = page.locator("#log .msg.user").last.locator(".bubble")
    expect(mine).to_have_text(title)
    expect(bot_messages(page)).to_have_count(before + 1, timeout=ANSWER_TIMEOUT)
    expect(page.locator("#typing")).to_be_hidden(timeout=ANSWER_TIMEOUT)
    assert re.fullmatch(r"item:[a-z][a-z0-9_]*", sent[-1]["message"]), sent[-1]
    [item] = [i for i in user_items(page) if i["id"] == sent[-1]["client_message_id"]]
    assert (item["text"], item["payload"]) == (title, sent[-1]["message"])
    # The item chosen is answered, and that answer can be rated.
    answer = last_answer(page)
    expect(answer.locator(".lead")).to_be_visible()
    expect(answer.locator(".rating")).to_be_visible()

    # A suggested question sends its "ask:" payload; the bubble shows its short title.
    follow_up = answer.locator("button.quick-reply").first
    title = follow_up.inner_text()
    before = bot_messages(page).count()
    follow_up.click()
    expect(page.locator("#log .msg.user").last.locator(".bubble")).to_have_text(title)
    expect(bot_messages(page)).to_have_count(before + 1, timeout=ANSWER_TIMEOUT)
    assert sent[-1]["message"].startswith("ask:") and sent[-1]["message"] != f"ask:{title}"
    assert page.locator("#log").inner_text().count("ask:") == 0
    assert page.locator("#log").inner_text().count("item:") == 0
    # After a reload the transcript still shows the titles, not the payloads.
    page.reload()
    expect(page.locator("#log .msg.user").last.locator(".bubble")).to_have_text(title)
    expect(last_answer(page).locator(".lead")).to_be_visible()
    assert chat.errors == []


FALLBACK_NAMES = {"天气怎么样": "out-of-scope", "asdfgh": "gibberish", "我想问个事": "unknown-item"}


@pytest.mark.parametrize("question", list(FALLBACK_NAMES))
def test_a_fallback_offers_12345_as_a_phone_link(
    chat: Watched, servers: Servers, question: str
) -> None:
    page = chat.page
    sent: list[dict] = []
    page.on("request", lambda request: sent.extend(user_uttered_sent(request)))
    page.goto(servers.base)
    wait_for_greeting(page)
    ask(page, question)
    screenshot(page, f"fallback-{FALLBACK_NAMES[question]}")
    answer = last_answer(page)
    call = answer.locator('a[href="tel:12345"]')
    expect(call.first).to_be_visible()
    # A phone call is a link, never a button that would send "tel:12345" as a message.
    expect(answer.locator("button", has_text="12345")).to_have_count(0)
    expect(answer.locator(".rating")).to_have_count(0)
    for link in call.all():
        assert link.evaluate("(a) => a.tagName") == "A"
    assert not [payload for payload in sent if payload["message"].startswith("tel:")]
    assert chat.errors == []


def test_ratings_only_under_item_answers(chat: Watched, servers: Servers) -> None:
    page = chat.page
    page.goto(servers.base)
    wait_for_greeting(page)
    greeting = bot_messages(page).first
    expect(greeting.locator(".rating")).to_have_count(0)
    ask(page, "公积金")  # a clarifying menu
    expect(last_answer(page).locator(".quick-reply").first).to_be_visible()
    expect(last_answer(page).locator(".rating")).to_have_count(0)
    ask(page, MARRIAGE)  # an item answer
    item_answer = last_answer(page)
    expect(item_answer.locator(".rating")).to_have_count(1)
    ask(page, "帮我查一下办件进度")  # a prompt for the case number
    expect(last_answer(page)).to_contain_text("办件编号")
    expect(last_answer(page).locator(".rating")).to_have_count(0)
    expect(page.locator("#log .rating")).to_have_count(1)
    # The same after a reload (the replies are re-rendered from sessionStorage).
    page.reload()
    expect(page.locator("#log .msg.bot")).to_have_count(4)
    expect(page.locator("#log .rating")).to_have_count(1)
    expect(item_answer.locator(".rating")).to_have_count(1)
    assert chat.errors == []


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
    expect(page.locator("#typing")).to_be_hidden(timeout=ANSWER_TIMEOUT)
    assert {item["status"] for item in user_items(page)} == {"done"}


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
    # The greeting first (above the question typed meanwhile), then the answer.
    expect(bot_messages(page).first).to_contain_text("您好", timeout=ANSWER_TIMEOUT)
    expect(page.locator("#log .msg.user.pending")).to_have_count(0, timeout=ANSWER_TIMEOUT)
    expect(bot_messages(page)).to_have_count(2, timeout=ANSWER_TIMEOUT)
    expect(bot_messages(page).last).to_contain_text("结婚", timeout=ANSWER_TIMEOUT)
    expect(bot_messages(page).last.locator(".quick-reply").first).to_be_visible()
    assert page.locator("#log .msg").evaluate_all("(rows) => rows.map((r) => r.className)") == [
        "msg bot",
        "msg user",
        "msg bot",
    ]


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


# -- the socket.io protocol: server-made sessions, message ids, replays, slow answers -----------


def test_the_page_uses_the_session_id_the_server_makes(chat: Watched, servers: Servers) -> None:
    page = chat.page
    # A stored id the server would never make (too short): the server replaces it.
    chat.context.add_init_script(
        f"""sessionStorage.getItem('{STORE_KEY}') || sessionStorage.setItem('{STORE_KEY}',
             JSON.stringify({{sessionId: 'my-own-id', greeted: false, items: []}}))"""
    )
    sent: list[dict] = []
    page.on("request", lambda request: sent.extend(user_uttered_sent(request)))
    page.goto(servers.base)
    wait_for_greeting(page)
    session_id = session_state(page)["sessionId"]
    assert session_id != "my-own-id"
    assert SESSION_ID.fullmatch(session_id)
    ask(page, MARRIAGE)
    # Every message names the server's session and carries its own client message id.
    assert [payload["message"] for payload in sent] == ["/greet", MARRIAGE]
    assert {payload["session_id"] for payload in sent} == {session_id}
    [asked] = [item for item in user_items(page) if not item.get("greeting")]
    assert sent[-1]["client_message_id"] == asked["id"]
    answer = session_state(page)["items"][-1]
    assert answer["replyTo"] == asked["id"]
    assert all(MESSAGE_ID.fullmatch(message_id) for message_id in answer["messageIds"])
    assert chat.errors == []


def test_feedback_is_only_for_messages_the_server_sent_to_that_session(
    chat: Watched, servers: Servers
) -> None:
    page = chat.page
    page.goto(servers.base)
    wait_for_greeting(page)
    ask(page, MARRIAGE)
    session_id = session_state(page)["sessionId"]
    message_id = last_answer(page).get_attribute("data-id")
    url = f"{servers.base}feedback"

    def post(session: str, message: str, **headers: str) -> requests.Response:
        body = {"session_id": session, "message_id": message, "rating": "down"}
        return requests.post(url, json=body, headers=headers, timeout=10)

    before = servers.summary()
    nonce, signature = message_id.split(".")
    forged = ("A" if signature[0] != "A" else "B") + signature[1:]
    for session, message in [
        ("Z" * 32, message_id),  # someone else's conversation
        (session_id, f"{nonce}.{forged}"),  # a made-up signature
        (session_id, "m1"),  # the ids of the old page
    ]:
        reply = post(session, message)
        assert reply.status_code in (400, 403), (session, message, reply.text)
        assert reply.json()["ok"] is False
    # Another site's page may not rate, and is told nothing it could read.
    reply = post(session_id, message_id, Origin="http://evil.example")
    assert reply.status_code == 403
    assert not [name for name in reply.headers if name.lower().startswith("access-control-")]
    preflight = requests.options(
        url,
        headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"},
        timeout=10,
    )
    assert "access-control-allow-origin" not in {name.lower() for name in preflight.headers}
    assert servers.summary() == before
    # The page's own rating of the same answer is accepted.
    assert (
        post(session_id, message_id, Origin=servers.base.split("/webhooks")[0]).status_code == 201
    )
    assert servers.summary()["total"] == before["total"] + 1


def test_a_connection_dropped_mid_answer_shows_the_answer_once(
    chat: Watched, servers: Servers
) -> None:
    """The answer (one message) arrives, the connection drops before the end of the turn; the page
    reconnects, sends the message again with the same id, and the server sends the same messages
    again (same message ids): the page shows and reads out the answer once."""
    page = chat.page
    cut: list[dict] = []  # the part of the answer delivered before the connection drops
    replayed: list[dict] = []  # the bot messages after the page sent the message again
    plan = {"step": "cut"}

    def route(route) -> None:
        request = route.request
        if plan["step"] == "drop":  # the next request after the cut fails: connection lost
            plan["step"] = "pass"
            route.abort("connectionreset")
            return
        if request.method != "GET":
            route.continue_()
            return
        reply = route.fetch()
        body = reply.text()
        packets = socketio_packets(body)
        answers = [p for p in packets if p[0] == "event" and p[3][0] == "bot_uttered"]
        if plan["step"] == "cut" and answers and answers[0][3][1].get("reply_to"):
            welcome = any(p[3][1].get("text", "").startswith("您好") for p in answers)
            if not welcome:
                # Deliver only the first message of the answer: the rest and the end are lost.
                plan["step"] = "drop"
                cut.append(answers[0][3][1])
                kept = [raw for raw in body.split("\x1e") if raw not in {p[2] for p in packets}]
                kept.append(answers[0][2])
                route.fulfill(response=reply, body="\x1e".join(kept))
                return
        if plan["step"] == "pass":
            replayed.extend(p[3][1] for p in answers)
        route.fulfill(response=reply)

    # Routed from the start: a long-polling request already waiting when the route was set would
    # bring the answer past it.
    page.route("**/socket.io/**", route)
    page.goto(servers.base)
    wait_for_greeting(page)
    record_announcements(page)
    sent: list[dict] = []
    page.on("request", lambda request: sent.extend(user_uttered_sent(request)))
    before = bot_messages(page).count()
    page.get_by_label("输入您的问题").fill(MARRIAGE)
    page.get_by_label("输入您的问题").press("Enter")
    expect(bot_messages(page)).to_have_count(before + 1, timeout=ANSWER_TIMEOUT)
    expect(page.locator("#status")).to_contain_text("已重新连接", timeout=ANSWER_TIMEOUT)
    expect(page.locator("#typing")).to_be_hidden(timeout=ANSWER_TIMEOUT)
    page.unroute_all(behavior="ignoreErrors")
    screenshot(page, "14-reconnected-mid-answer")

    # Sent twice with the same client message id; the second time the same messages came again.
    assert [payload["message"] for payload in sent] == [MARRIAGE, MARRIAGE]
    assert sent[0]["client_message_id"] == sent[1]["client_message_id"]
    [first] = cut
    assert first["message_id"] in [message["message_id"] for message in replayed], "no replay"
    ids = [m["message_id"] for m in replayed if m.get("text") or m.get("tongban")]
    assert {message["reply_to"] for message in replayed} == {sent[0]["client_message_id"]}
    # ...and the page shows each message once, in order, as one answer.
    expect(bot_messages(page)).to_have_count(before + 1)
    answer = session_state(page)["items"][-1]
    assert answer["messageIds"] == ids
    assert len(answer["parts"]) == len(answer["messageIds"])
    assert bot_messages(page).last.locator(".part").count() == len(answer["parts"])
    expect(bot_messages(page).last.locator(".lead")).to_have_count(1)
    [read_out] = announced(page)
    assert "结婚登记" in read_out
    assert {item["status"] for item in user_items(page)} == {"done"}
    assert chat.errors == []


def test_an_unanswered_message_is_sent_again_after_a_reload(
    chat: Watched, servers: Servers
) -> None:
    page = chat.page
    page.goto(servers.base)
    wait_for_greeting(page)

    def swallow(route) -> None:  # the message never reaches the server; the page waits
        request = route.request
        if user_uttered_sent(request):
            kept = [raw for raw in request.post_data.split("\x1e") if "user_uttered" not in raw]
            if kept:
                route.continue_(post_data="\x1e".join(kept))
            else:
                route.fulfill(status=200, body="ok", content_type="text/html")
            return
        route.continue_()

    page.route("**/socket.io/**", swallow)
    page.get_by_label("输入您的问题").fill(MARRIAGE)
    page.get_by_label("输入您的问题").press("Enter")
    expect(page.locator("#typing")).to_be_visible()
    [asked] = [item for item in user_items(page) if not item.get("greeting")]
    assert asked["status"] == "sent"
    page.unroute("**/socket.io/**")

    sent: list[dict] = []
    page.on("request", lambda request: sent.extend(user_uttered_sent(request)))
    before = bot_messages(page).count()
    page.reload()
    expect(bot_messages(page)).to_have_count(before + 1, timeout=ANSWER_TIMEOUT)
    expect(page.locator("#typing")).to_be_hidden(timeout=ANSWER_TIMEOUT)
    # Only the unanswered message went again, with its own id; the greeting did not.
    assert [(payload["message"], payload["client_message_id"]) for payload in sent] == [
        (MARRIAGE, asked["id"])
    ]
    expect(bot_messages(page).last.locator(".bubble")).to_contain_text("结婚登记")
    assert {item["status"] for item in user_items(page)} == {"done"}


def test_a_slow_answer_says_so_then_fails_clearly_and_can_be_sent_again(
    chat: Watched, servers: Servers
) -> None:
    """The message is held back from the server; the page's clock is moved on (Playwright's
    clock, installed after the connection is up, so socket.io keeps its own timers)."""
    page = chat.page
    page.goto(servers.base)
    wait_for_greeting(page)
    held = {"on": True}

    def hold(route) -> None:
        request = route.request
        if held["on"] and user_uttered_sent(request):
            kept = [raw for raw in request.post_data.split("\x1e") if "user_uttered" not in raw]
            if kept:
                route.continue_(post_data="\x1e".join(kept))
            else:
                route.fulfill(status=200, body="ok", content_type="text/html")
            return
        route.continue_()

    page.route("**/socket.io/**", hold)
    page.clock.install()
    record_announcements(page)
    sent: list[dict] = []
    page.on("request", lambda request: sent.extend(user_uttered_sent(request)))
    before = bot_messages(page).count()
    page.get_by_label("输入您的问题").fill(MARRIAGE)
    page.get_by_label("输入您的问题").press("Enter")
    slow = page.locator("#slow")
    expect(page.locator("#typing")).to_be_visible()
    page.clock.run_for(14_000)
    expect(slow).to_be_hidden()

    # After 15 seconds: still working, and the 12345 hotline as a phone link.
    page.clock.run_for(1_500)
    expect(slow).to_be_visible()
    expect(slow).to_contain_text("还在处理")
    expect(slow).to_have_attribute("role", "status")
    expect(slow.get_by_role("link", name="12345")).to_have_attribute("href", "tel:12345")
    expect(page.locator("#typing")).to_be_visible()
    screenshot(page, "15-slow-answer")

    # After 60 seconds: a clear failure on the message, with a retry button and the hotline.
    page.clock.run_for(45_000)
    failure = page.locator("#log .msg.user").last.locator(".failed-note")
    expect(failure).to_be_visible()
    expect(failure).to_contain_text("暂时没有收到回复")
    expect(failure.get_by_role("link", name="12345")).to_have_attribute("href", "tel:12345")
    expect(slow).to_be_hidden()
    expect(page.locator("#typing")).to_be_hidden()
    assert any("暂时没有收到回复" in text for text in announced(page))
    screenshot(page, "16-no-answer-retry")

    # Retry: the same client message id again, now let through; one answer, the failure gone.
    held["on"] = False
    failure.get_by_role("button", name="重新发送").click()
    expect(bot_messages(page)).to_have_count(before + 1, timeout=ANSWER_TIMEOUT)
    expect(page.locator("#typing")).to_be_hidden(timeout=ANSWER_TIMEOUT)
    expect(page.locator(".failed-note")).to_have_count(0)
    expect(bot_messages(page).last.locator(".bubble")).to_contain_text("结婚登记")
    ids = {payload["client_message_id"] for payload in sent}
    assert len(ids) == 1 and len(sent) >= 2
    assert {item["status"] for item in user_items(page)} == {"done"}
    assert chat.errors == []
