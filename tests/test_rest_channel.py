"""The REST channel refuses bad input with a 4xx and fails one message, never the server."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
from sanic import Sanic

from tests.asgi import AsgiClient
from tongban.channels import inbound
from tongban.channels.rest import RestInput, parse_request
from tongban.channels.server import NO_ANSWER_REPLY, UNAVAILABLE_REPLY, ConversationUnavailable

URL = "/webhooks/rest/webhook"


class Assistant:
    """A stand-in for Rasa's message handler: records messages and answers or fails."""

    def __init__(self) -> None:
        self.messages = []
        self.fail: Exception | None = None
        self.silent = False  # a dialogue path that says nothing

    async def __call__(self, message) -> None:
        self.messages.append(message)
        if self.fail:
            raise self.fail
        if not self.silent:
            await message.output_channel.send_text_message(message.sender_id, f"答：{message.text}")


@pytest.fixture()
def rest(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(Sanic, "test_mode", True)
    assistant = Assistant()
    app = Sanic(f"rest_test_{uuid.uuid4().hex}")
    app.blueprint(RestInput().blueprint(assistant), url_prefix="/webhooks/rest")
    client = AsgiClient(app)

    def post(body, query: str = "", **kwargs):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        status, _, content = asyncio.run(client.request("POST", URL, data, query, **kwargs))
        return status, content.decode()

    post.assistant = assistant
    return post


def test_a_good_message_is_answered(rest) -> None:
    status, content = rest({"sender": "demo", "message": "你好"})
    assert status == 200
    assert json.loads(content) == [{"recipient_id": "demo", "text": "答：你好"}]


# The reproduction of the critical finding: a lone surrogate used to stop the whole server.
@pytest.mark.parametrize(
    "body",
    [
        b'{"sender":"\\ud800","message":"hi"}',
        b'{"sender":"demo","message":"\\ud800"}',
        b'{"sender":"demo","message":"hi \\udfff there"}',
        b'{"sender":"demo","message":"\xff\xfe"}',
    ],
    ids=["surrogate-sender", "surrogate-message", "low-surrogate", "invalid-utf8"],
)
def test_invalid_unicode_is_refused_before_anything_is_stored(rest, body) -> None:
    status, content = rest(body)
    assert status == 400
    assert "error" in json.loads(content)
    assert rest.assistant.messages == []


@pytest.mark.parametrize(
    "body",
    [
        {"message": "hi"},  # no sender: used to share Rasa's "default" conversation
        {"sender": "", "message": "hi"},
        {"sender": None, "message": "hi"},
        {"sender": 12, "message": "hi"},
        {"sender": "a b", "message": "hi"},
        {"sender": "x" * 65, "message": "hi"},
        {"sender": "张三", "message": "hi"},
        {"sender": "demo"},
        {"sender": "demo", "message": 5},
        {"sender": "demo", "message": ["hi"]},
        {"sender": "demo", "message": "   "},
        {"sender": "demo", "message": "\x00\x01"},
        {"sender": "demo", "message": "hi", "metadata": []},
        {"sender": "demo", "message": "hi", "metadata": "x"},
        {"sender": "demo", "message": "hi", "metadata": {"as_of": "2022-13-01"}},
        {"sender": "demo", "message": "hi", "metadata": {"as_of": "yesterday"}},
        {"sender": "demo", "message": "hi", "metadata": {"as_of": 20220325}},
        [1, 2],
        "hi",
        None,
    ],
)
def test_malformed_requests_get_a_400_with_a_short_json_error(rest, body) -> None:
    status, content = rest(body)
    assert status == 400
    assert set(json.loads(content)) == {"error"}
    assert rest.assistant.messages == []


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"{",
        b'{"sender":"demo","message":NaN}',
        b'{"sender":"demo","message":"hi","metadata":{"x":Infinity}}',
        b'{"sender":"demo","message":"hi","metadata":{"x":-Infinity}}',
        b'{"sender":"demo","message":"hi","metadata":' + b"[" * 5000 + b"]" * 5000 + b"}",
        b"[" * 30000 + b"]" * 30000,
    ],
    ids=["empty", "truncated", "nan", "infinity", "minus-infinity", "nested", "deep"],
)
def test_broken_json_gets_a_400(rest, raw) -> None:
    status, content = rest(raw)
    assert status == 400
    assert "error" in json.loads(content)


def test_a_body_over_64_kib_gets_413(rest) -> None:
    body = {"sender": "demo", "message": "啊" * 30000}
    status, _ = rest(body)
    assert status == 413
    assert rest.assistant.messages == []


def test_a_long_message_gets_a_friendly_request_without_nlu(rest) -> None:
    status, content = rest({"sender": "demo", "message": "我想问结婚登记" * 200})
    assert status == 200
    assert json.loads(content)[0]["text"] == inbound.TOO_LONG_REPLY
    assert rest.assistant.messages == []
    status, content = rest({"sender": "demo", "message": "啊" * 1000})
    assert status == 200 and len(rest.assistant.messages) == 1


def test_text_is_nfc_normalised_and_control_characters_dropped(rest) -> None:
    rest({"sender": "demo", "message": "e\u0301\u0007 结婚"})
    assert rest.assistant.messages[0].text == "\u00e9 结婚"


def test_only_a_valid_as_of_is_kept_and_the_client_is_set_by_the_server(rest) -> None:
    rest({"sender": "demo", "message": "hi", "metadata": {"as_of": "2022-03-25", "client": "me"}})
    metadata = rest.assistant.messages[0].metadata
    assert metadata["as_of"] == "2022-03-25"
    assert metadata["client"] != "me" and len(metadata["client"]) == 32


def test_the_input_channel_cannot_be_chosen_by_the_client(rest) -> None:
    rest({"sender": "demo", "message": "hi", "input_channel": "socketio"})
    assert rest.assistant.messages[0].input_channel == "rest"


def test_a_failing_conversation_store_fails_only_that_message_with_503(rest) -> None:
    rest.assistant.fail = ConversationUnavailable("OperationalError")
    status, content = rest({"sender": "demo", "message": "你好"})
    assert status == 503
    assert json.loads(content) == {"error": UNAVAILABLE_REPLY}
    rest.assistant.fail = None
    assert rest({"sender": "demo", "message": "你好"})[0] == 200


def test_stream_with_a_bad_message_ends_with_an_error(rest) -> None:
    status, content = rest({"sender": "demo", "message": 5}, query="stream=true")
    assert status == 400 and "error" in json.loads(content)


def test_stream_ends_even_when_processing_fails(rest) -> None:
    rest.assistant.fail = RuntimeError("boom")
    status, content = rest({"sender": "demo", "message": "你好"}, query="stream=true")
    assert status == 200
    assert [json.loads(line) for line in content.splitlines()] == [{"error": UNAVAILABLE_REPLY}]


def test_stream_answers_line_by_line(rest) -> None:
    status, content = rest({"sender": "demo", "message": "你好"}, query="stream=true")
    assert status == 200
    assert json.loads(content.splitlines()[0])["text"] == "答：你好"


def test_parse_request_alone() -> None:
    message = parse_request(b'{"sender":"s-1","message":" \\u4f60\\u597d "}', "k")
    assert (message.sender, message.text, message.metadata) == ("s-1", "你好", {"client": "k"})


@pytest.mark.parametrize(
    ("typed", "seen"),
    [
        ("/restart", "/restart"),
        ("/case_history", "/case_history"),
        ('/inform{"item":"marriage_registration"}', '/inform{"item":"marriage_registration"}'),
        ("/session_start", "session_start"),  # not a citizen's button: read as words
        ("/back", "back"),
        ('/inform{"case_number":"SC2025110300342"}', 'inform{"case_number":"SC2025110300342"}'),
        ('/inform{"item":{"a":1}}', 'inform{"item":{"a":1}}'),
        ("/greet@0.1", "greet@0.1"),
    ],
)
def test_only_the_citizens_own_button_payloads_skip_the_nlu(rest, typed, seen) -> None:
    assert rest({"sender": "demo", "message": typed})[0] == 200
    assert rest.assistant.messages[-1].text == seen


@pytest.mark.parametrize("text", ["\u200b\u200b", "\ufeff", "///", " \u2060 "])
def test_invisible_only_messages_are_empty(rest, text) -> None:
    status, content = rest({"sender": "demo", "message": text})
    assert status == 400 and "为空" in json.loads(content)["error"]


@pytest.mark.parametrize("query", ["", "stream=true"])
def test_a_message_the_assistant_says_nothing_to_still_gets_an_answer(rest, query) -> None:
    rest.assistant.silent = True
    status, content = rest({"sender": "demo", "message": "你好"}, query=query)
    assert status == 200
    first = json.loads(content.splitlines()[0]) if query else json.loads(content)[0]
    assert first["text"] == NO_ANSWER_REPLY
