"""The action server: rasa-sdk's app, on loopback, answering only Rasa (a shared bearer secret).

Run with `python -m tongban.actionserver --port 5055`. Rasa sends the secret through the action
endpoint's headers in endpoints.yml (Authorization: Bearer ${TONGBAN_ACTION_TOKEN}).
Note: the value in endpoints.yml must be an unquoted YAML scalar, or Rasa does not expand it.
"""

from __future__ import annotations

import argparse
import hmac
import logging
import sys

from rasa_sdk.endpoint import create_app
from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from tongban.settings import settings

log = logging.getLogger(__name__)
OPEN_PATHS = frozenset({"/health"})  # the launcher's readiness probe; it reveals nothing
# Rasa sends the whole conversation tracker with every call: long conversations are large.
MAX_BODY_BYTES = 8 * 1024 * 1024


def build_app(token: str, actions_package: str = "actions") -> Sanic:
    if not token:
        raise ValueError("the action server needs a token")
    app = create_app(actions_package, cors_origins=None)
    app.config.REQUEST_MAX_SIZE = MAX_BODY_BYTES
    expected = f"Bearer {token}".encode()

    @app.middleware("request")
    async def require_token(request: Request) -> HTTPResponse | None:
        if request.path in OPEN_PATHS:
            return None
        supplied = (request.headers.get("authorization") or "").encode()
        if not hmac.compare_digest(supplied, expected):
            return response.json({"error": "unauthorized"}, status=401)
        return None

    @app.exception(Exception)
    async def failed(_: Request, exc: Exception) -> HTTPResponse:
        # rasa-sdk's own handler echoes the request body, which holds the conversation.
        status = getattr(exc, "status_code", 500)
        if status >= 500:
            log.error("action failed: %s", type(exc).__name__, exc_info=exc)
        return response.json({"error": type(exc).__name__}, status=status)

    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="通办助手动作服务器 / Tongban action server")
    parser.add_argument("--port", type=int, default=5055)
    parser.add_argument("--host", default=None, help="default: TONGBAN_ACTIONS_HOST or 127.0.0.1")
    parser.add_argument("--actions", default="actions")
    args = parser.parse_args(argv)
    config = settings()
    if not config.action_token:
        print("错误 / error: TONGBAN_ACTION_TOKEN is not set (make run sets one)", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    app = build_app(config.action_token, args.actions)
    host = args.host or config.actions_host
    log.info("action server on http://%s:%d", host, args.port)
    app.run(host=host, port=args.port, workers=1, access_log=False, motd=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
