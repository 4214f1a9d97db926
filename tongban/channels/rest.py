"""Rasa's REST channel with every input checked: the same URL (/webhooks/rest/webhook) and replies.

Registered in credentials.yml as `tongban.channels.rest.RestInput` in place of `rest:`.
- the body is a JSON object of at most 64 KiB with a valid `sender` and `message` (400/413 otherwise);
- `metadata` may carry only `as_of`; the channel adds the client's keyed hash as `client`;
- a message over 1,000 characters gets a request to shorten it, without running the NLU;
- a tapped button's payload (tongban.reply.Option) becomes the message Rasa understands;
- a failure while processing gives 503 with a polite JSON error (or, streaming, a final error
  line), never a 500, an empty reply or a stream that does not end.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import QueueOutputChannel
from rasa.core.channels.rest import RestInput as RasaRestInput
from rasa.utils.endpoints import bool_arg
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse, ResponseStream

from tongban.channels import inbound, server
from tongban.channels.client import request_client_key
from tongban.channels.options import to_rasa_text

log = logging.getLogger(__name__)

json_dumps = lambda data: json.dumps(data, ensure_ascii=False)  # noqa: E731
_DONE = object()


@dataclass(frozen=True)
class Inbound:
    sender: str
    text: str
    metadata: dict[str, Any]


def parse_request(body: bytes | None, client: str) -> Inbound:
    """The checked message in a REST request body, or BadRequest."""
    data = inbound.parse_json_object(body)
    # A missing sender used to mean Rasa's shared "default" conversation: never again.
    sender = inbound.clean_sender(data.get("sender"))
    text = to_rasa_text(inbound.clean_text(data.get("message")))
    metadata = inbound.clean_metadata(data.get("metadata"))
    metadata["client"] = client
    return Inbound(sender, text, metadata)


def _error(message: str, status: int) -> HTTPResponse:
    return response.json({"error": message}, status=status, dumps=json_dumps)


class RestInput(RasaRestInput):
    @classmethod
    def name(cls) -> str:
        return "rest"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        rest = Blueprint("tongban_rest_webhook", __name__)
        server.install(rest)

        @rest.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @rest.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse | ResponseStream:
            try:
                message = parse_request(request.body, request_client_key(request))
            except inbound.BadRequest as exc:
                return _error(str(exc), exc.status)
            stream = bool_arg(request, "stream", default=False)
            if inbound.too_long(message.text):
                reply = [{"recipient_id": message.sender, "text": inbound.TOO_LONG_REPLY}]
                if stream:
                    return response.stream(_lines(_listed(reply)), content_type="text/event-stream")
                return response.json(reply, dumps=json_dumps)
            if stream:
                return response.stream(
                    _lines(self._streamed(on_new_message, message)),
                    content_type="text/event-stream",
                )
            collector = CollectingOutputChannel()
            try:
                await on_new_message(self._user_message(message, collector))
            except Exception as exc:  # one failed message must not look like success or crash
                log.error("REST message failed: %s", type(exc).__name__)
                return _error(server.UNAVAILABLE_REPLY, 503)
            if not collector.messages:
                log.warning("REST message produced no reply; sent the no-answer reply")
                await collector.send_text_message(message.sender, server.NO_ANSWER_REPLY)
            return response.json(collector.messages, dumps=json_dumps)

        return rest

    def _user_message(self, message: Inbound, output: Any) -> UserMessage:
        return UserMessage(
            message.text,
            output,
            message.sender,
            input_channel=self.name(),
            metadata=message.metadata,
        )

    async def _streamed(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]], message: Inbound
    ) -> AsyncIterator[dict[str, Any]]:
        queue: asyncio.Queue = asyncio.Queue()

        async def run() -> None:
            try:
                await on_new_message(self._user_message(message, QueueOutputChannel(queue)))
            except Exception as exc:
                log.error("REST stream message failed: %s", type(exc).__name__)
                await queue.put({"error": server.UNAVAILABLE_REPLY})
            finally:
                await queue.put(_DONE)

        task = asyncio.ensure_future(run())
        answered = False
        try:
            while (item := await queue.get()) is not _DONE:
                answered = True
                yield item
            if not answered:
                log.warning("REST stream produced no reply; sent the no-answer reply")
                yield {"recipient_id": message.sender, "text": server.NO_ANSWER_REPLY}
        finally:
            await task


async def _listed(items: list[dict[str, Any]]) -> AsyncIterator[dict[str, Any]]:
    for item in items:
        yield item


def _lines(items: AsyncIterator[dict[str, Any]]) -> Callable[[Any], Awaitable[None]]:
    async def write(resp: Any) -> None:
        async for item in items:
            await resp.write(json_dumps(item) + "\n")

    return write
