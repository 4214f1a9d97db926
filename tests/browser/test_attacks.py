"""Attacks and fuzzing against the real running servers (tools/run.sh), with hypothesis.

Every reproduction of the hardening issue is replayed, then a few thousand generated inputs go to
REST and the feedback endpoint (socket.io: test_attacks_socketio.py). Whatever comes in: no 5xx,
no server exits, and a well-formed message always gets a non-empty reply (a bad one a 4xx).
Loopback only; every loop is bounded by hypothesis' example counts and request timeouts.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import json
import re
import string
import time

import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.browser.conftest import Servers

TIMEOUT = 60
FUZZ = settings(
    deadline=None,
    derandomize=True,  # the same inputs on every run, so a CI failure can be replayed
    database=None,
    suppress_health_check=list(HealthCheck),
)

QUESTIONS = [
    "我是江西人，在深圳打工，能领结婚证吗？要带什么？",
    "异地就医怎么备案",
    "驾驶证可以异地换领吗",
    "宜昌能领结婚证吗",
    "帮我查一下办件进度",
    "你好",
    "谢谢",
    "转人工",
    "那离婚呢",
    "我在广州",
    "按2022年3月的政策",
    "身份证丢了在外地能补办吗",
]
VALID_SENDER = st.from_regex(r"\A[A-Za-z0-9_-]{1,64}\Z")
ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"
ANY_CHAR = st.characters(codec=None, exclude_categories=())  # surrogates and controls included
TYPED = st.sampled_from(
    [
        "/restart", "/session_start", "/back", "/case_history", "/case_status", "/greet",
        "/inform", '/inform{"item":"marriage_registration"}', '/inform{"item":{"a":[1]}}',
        '/inform{"place":"北京"', "/nlu_fallback", "/action_listen", "/greet@0.0", "/" * 50,
        '/inform{"case_number":"SC2025110300342"}', "/out_of_scope{}",
    ]
)  # fmt: skip
WELL_FORMED_TEXT = st.one_of(
    st.sampled_from(QUESTIONS),
    st.builds(lambda q, noise: q + noise, st.sampled_from(QUESTIONS), st.text(ZERO_WIDTH + "，。！？ ", max_size=5)),
    st.text(alphabet="结婚离婚户口社保医保驾驶证身份证公积金养老在外地能办吗怎么要带什么", min_size=1, max_size=40),
    TYPED.filter(lambda t: t.strip("/")),
)  # fmt: skip
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)  # fmt: skip
AS_OF = st.builds(
    lambda d: {"as_of": d.isoformat()}, st.dates(dt.date(2015, 1, 1), dt.date(2030, 12, 31))
)
METADATA = st.one_of(
    st.none(),
    st.just({}),
    AS_OF,
    st.fixed_dictionaries({"as_of": st.text(max_size=12)}),
    JSON,
)
HOSTILE_TEXT = st.one_of(
    st.text(ANY_CHAR, max_size=50),
    st.text(ANY_CHAR, min_size=990, max_size=1100),
    st.text(string.whitespace + ZERO_WIDTH + "\x00\x07\x1b", max_size=20),
    TYPED,
    JSON,
)
BODY = st.one_of(
    st.fixed_dictionaries(
        {"sender": st.one_of(VALID_SENDER, st.text(ANY_CHAR, max_size=70), JSON), "message": HOSTILE_TEXT},
        optional={"metadata": METADATA, "input_channel": st.text(max_size=10)},
    ),
    JSON,
)  # fmt: skip


def rest_url(servers: Servers) -> str:
    return f"http://127.0.0.1:{servers.rasa_port}/webhooks/rest/webhook"


def post_raw(servers: Servers, data: bytes, query: str = "") -> requests.Response:
    return requests.post(
        rest_url(servers) + query,
        data=data,
        headers={"Content-Type": "application/json"},
        timeout=TIMEOUT,
    )


def to_bytes(body: object) -> bytes:
    # ensure_ascii: lone surrogates travel as JSON escapes, exactly as in the reproduction
    return json.dumps(body, ensure_ascii=True).encode()


def assert_alive(servers: Servers) -> None:
    assert requests.get(f"http://127.0.0.1:{servers.rasa_port}/", timeout=TIMEOUT).ok
    output = servers.output.read_text(encoding="utf-8", errors="replace")
    assert "有一个服务已退出" not in output, output[-2000:]


def assert_answered(reply: requests.Response) -> None:
    assert reply.status_code == 200, (reply.status_code, reply.text[:300])
    messages = reply.json()
    assert isinstance(messages, list) and messages, "a well-formed message got an empty reply"
    assert all(m.get("text") or m.get("buttons") or m.get("custom") for m in messages)


def assert_refused_or_answered(reply: requests.Response) -> None:
    assert reply.status_code < 500, (reply.status_code, reply.text[:300])
    if reply.status_code == 200:
        messages = reply.json()
        assert isinstance(messages, list) and messages, "empty reply"
    else:
        assert 400 <= reply.status_code < 500
        assert reply.text and "Traceback" not in reply.text


# -- the reproductions of the issue, one by one -----------------------------------------------


def test_a_lone_surrogate_sender_no_longer_stops_the_server(servers: Servers) -> None:
    reply = post_raw(servers, b'{"sender":"\\ud800","message":"hi"}')
    assert reply.status_code == 400
    assert_alive(servers)
    assert_answered(post_raw(servers, to_bytes({"sender": "after-surrogate", "message": "你好"})))


def test_a_missing_sender_gets_400_not_the_shared_default_conversation(servers: Servers) -> None:
    for body in ({"message": "查看办理记录"}, {"sender": None, "message": "hi"}, {"sender": ""}):
        assert post_raw(servers, to_bytes(body)).status_code == 400


def test_an_oversized_body_is_refused_before_it_is_read(servers: Servers) -> None:
    body = b'{"sender":"big","message":"' + b"a" * (10 * 1024 * 1024) + b'"}'
    try:
        reply = post_raw(servers, body)
        assert reply.status_code == 413
    except requests.ConnectionError:
        pass  # the server may close the connection as soon as it has refused the body
    assert_alive(servers)


def test_a_huge_message_does_not_stall_anyone_else(servers: Servers) -> None:
    huge = to_bytes({"sender": "huge", "message": "啊" * 9000})  # 54 KB escaped: under 64 KiB
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        slow = [pool.submit(post_raw, servers, huge) for _ in range(3)]
        began = time.monotonic()
        hello = pool.submit(post_raw, servers, to_bytes({"sender": "bystander", "message": "你好"}))
        assert_answered(hello.result())
        waited = time.monotonic() - began
        for future in slow:
            reply = future.result()
            assert reply.status_code == 200
            assert "有点长" in reply.json()[0]["text"]
    assert waited < 20, f"你好 waited {waited:.1f} s behind the long messages"


def test_stream_with_a_bad_message_finishes(servers: Servers) -> None:
    reply = post_raw(servers, to_bytes({"sender": "st", "message": 5}), "?stream=true")
    assert reply.status_code == 400
    reply = post_raw(servers, to_bytes({"sender": "st", "message": "你好"}), "?stream=true")
    assert reply.status_code == 200 and json.loads(reply.text.splitlines()[0])["text"]


def test_the_action_server_refuses_callers_without_the_secret(servers: Servers) -> None:
    # tools/run.sh prints the action server's address when both servers are up
    output = servers.output.read_text(encoding="utf-8")
    port = re.search(r"actions:\s+http://localhost:(\d+)/health", output).group(1)
    call = {"next_action": "action_case_history", "sender_id": "VICTIM", "tracker": {}}
    reply = requests.post(f"http://127.0.0.1:{port}/webhook", json=call, timeout=10)
    assert reply.status_code == 401
    assert requests.get(f"http://127.0.0.1:{port}/actions", timeout=10).status_code == 401


def test_cors_never_echoes_an_arbitrary_origin(servers: Servers) -> None:
    headers = {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    for method in ("OPTIONS", "POST"):
        reply = requests.request(method, rest_url(servers), headers=headers, timeout=TIMEOUT,
                                 json={"sender": "cors", "message": "你好"})  # fmt: skip
        assert reply.headers.get("Access-Control-Allow-Origin") in (None, "")


def test_typed_intents_always_get_a_reply(servers: Servers) -> None:
    for text in ("/restart", "/session_start", "/back", "/case_history", "/greet", "/inform"):
        assert_answered(post_raw(servers, to_bytes({"sender": "typed", "message": text})))


# -- fuzzing --------------------------------------------------------------------------------


@settings(FUZZ, max_examples=300)
@given(sender=VALID_SENDER, text=WELL_FORMED_TEXT, metadata=st.one_of(st.none(), AS_OF))
def test_fuzz_well_formed_messages_always_get_a_non_empty_reply(
    servers: Servers, sender: str, text: str, metadata: dict | None
) -> None:
    body = {"sender": sender, "message": text} | ({"metadata": metadata} if metadata else {})
    assert_answered(post_raw(servers, to_bytes(body)))


@settings(FUZZ, max_examples=1200)
@given(body=BODY)
def test_fuzz_anything_posted_to_rest_gets_a_4xx_or_an_answer(servers: Servers, body) -> None:
    assert_refused_or_answered(post_raw(servers, to_bytes(body)))


@settings(FUZZ, max_examples=300)
@given(raw=st.binary(max_size=300))
def test_fuzz_raw_bytes_to_rest(servers: Servers, raw: bytes) -> None:
    assert_refused_or_answered(post_raw(servers, raw))


FEEDBACK = st.one_of(
    st.fixed_dictionaries(
        {
            "session_id": st.one_of(VALID_SENDER, st.text(ANY_CHAR, max_size=70), JSON),
            "message_id": st.one_of(st.text(string.ascii_letters + string.digits + "._-", max_size=80), JSON),
            "rating": st.one_of(st.sampled_from(["up", "down"]), JSON),
        },
        optional={"reason": st.one_of(st.text(ANY_CHAR, max_size=600), JSON)},
    ),
    JSON,
)  # fmt: skip


@settings(FUZZ, max_examples=600)
@given(body=FEEDBACK)
def test_fuzz_feedback_refuses_everything_it_did_not_send(servers: Servers, body) -> None:
    reply = requests.post(f"{servers.base}feedback", data=to_bytes(body), timeout=TIMEOUT,
                          headers={"Content-Type": "application/json"})  # fmt: skip
    # No message id here was signed by the server for its session: nothing may be stored.
    assert 400 <= reply.status_code < 500, (reply.status_code, reply.text[:200])
    assert "Traceback" not in reply.text


def test_zz_after_all_the_fuzzing_the_servers_are_still_up(servers: Servers) -> None:
    assert_alive(servers)
    assert set(servers.summary()) == {"up", "down", "total"}  # the ratings store still answers
    assert_answered(post_raw(servers, to_bytes({"sender": "last", "message": "异地就医怎么备案"})))
