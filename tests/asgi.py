"""Just enough of an HTTP client to call a Sanic 21.12 app through ASGI, without a server."""

from __future__ import annotations

from sanic import Sanic


class AsgiClient:
    def __init__(self, app: Sanic) -> None:
        self.app = app
        self.started = False

    async def request(
        self,
        method: str,
        path: str,
        data: bytes = b"",
        query: str = "",
        headers: dict[str, str] | None = None,
        client: tuple[str, int] = ("127.0.0.1", 1),
    ) -> tuple[int, dict[str, str], bytes]:
        if not self.started:
            self.app.asgi = True
            await self.app._startup()
            self.started = True
        sent: list[dict] = []
        incoming = [{"type": "http.request", "body": data, "more_body": False}]

        async def receive():
            return incoming.pop(0) if incoming else {"type": "http.disconnect"}

        async def send(message):
            sent.append(message)

        raw_headers = {"host": "test", "content-type": "application/json"} | (headers or {})
        raw_headers["content-length"] = str(len(data))
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
            "query_string": query.encode(), "root_path": "", "server": ("test", 80),
            "client": client,
            "headers": [(k.encode(), v.encode()) for k, v in raw_headers.items()],
        }  # fmt: skip
        await self.app(scope, receive, send)
        start = sent[0]
        response_headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
        content = b"".join(m.get("body", b"") for m in sent[1:])
        return start["status"], response_headers, content
