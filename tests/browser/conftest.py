"""Browser tests: the real servers (tools/run.sh) and Debian's Chromium driven by Playwright.

Run with `pytest tests/browser` (the main `pytest` run ignores this folder: it starts servers).
Needs /usr/bin/chromium (tools/install_browser.sh) and models/tongban.tar.gz (`make train`).
Playwright never downloads a browser here: it launches /usr/bin/chromium.

The servers run on free ports with their own credentials and endpoints files, so ratings and
conversations go to a temporary folder and a `make run` on 5005/5055 is left alone.
Screenshots go to tests/artifacts/ (gitignored; CI keeps them as test artefacts).
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
import yaml
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
START_TIMEOUT = 420  # seconds; loading the model takes 1-3 minutes on a busy 2-core machine


@dataclass
class Servers:
    base: str  # http://localhost:<port>/webhooks/webchat/
    rasa_port: int
    feedback_db: Path
    output: Path
    logs: Path
    started_in: float
    timings: dict[str, float] = field(default_factory=dict)

    def summary(self) -> dict[str, int]:
        reply = requests.get(f"{self.base}feedback/summary", timeout=10)
        reply.raise_for_status()
        return reply.json()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _config_files(folder: Path, actions_port: int, extra: dict) -> tuple[Path, Path]:
    """credentials.yml and endpoints.yml as the project has them, with files under `folder` and
    the channel entries of `extra` added."""
    credentials = yaml.safe_load((ROOT / "credentials.yml").read_text(encoding="utf-8"))
    webchat = credentials.get("tongban.channels.webchat.WebChatInput") or {}
    credentials["tongban.channels.webchat.WebChatInput"] = webchat | {
        "feedback_db": str(folder / "feedback.db")
    }
    credentials.update(extra)
    endpoints = yaml.safe_load((ROOT / "endpoints.yml").read_text(encoding="utf-8"))
    endpoints["action_endpoint"]["url"] = f"http://localhost:{actions_port}/webhook"
    if (endpoints.get("tracker_store") or {}).get("dialect") == "sqlite":
        endpoints["tracker_store"]["db"] = str(folder / "tracker.db")
    paths = folder / "credentials.yml", folder / "endpoints.yml"
    for path, data in zip(paths, (credentials, endpoints), strict=True):
        path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return paths


@dataclass
class Started:
    """tools/run.sh running on its own ports, with every database of its own under `folder`."""

    rasa_port: int
    folder: Path
    output: Path
    started_in: float

    def url(self, path: str) -> str:
        return f"http://localhost:{self.rasa_port}/{path}"


@contextlib.contextmanager
def run_servers(
    folder: Path,
    env: dict[str, str] | None = None,
    credentials: dict | None = None,
    prepare: Callable[[dict[str, str]], None] | None = None,
) -> Iterator[Started]:
    """Start tools/run.sh on free ports with fresh secrets and its own tracker, rating, case,
    console, answer and handoff databases in `folder` (never the project's var/, so a `make run`
    is left alone), plus `env`; `credentials` adds channel entries; `prepare(env)` runs before
    the start (staff accounts, case imports). Waits for the printed URLs; stops the whole process
    group at the end."""
    if not (ROOT / "models" / "tongban.tar.gz").is_file():
        pytest.fail("models/tongban.tar.gz is missing: run `make train` first")
    rasa_port, actions_port = free_port(), free_port()
    credentials_file, endpoints_file = _config_files(folder, actions_port, credentials or {})
    full_env = (
        os.environ
        | {
            "RASA_PORT": str(rasa_port),
            "ACTIONS_PORT": str(actions_port),
            "TONGBAN_CREDENTIALS": str(credentials_file),
            "TONGBAN_ENDPOINTS": str(endpoints_file),
            "TONGBAN_LOG_DIR": str(folder),
            "TONGBAN_START_TIMEOUT": str(START_TIMEOUT),
            "TONGBAN_SECRET_KEY": secrets.token_urlsafe(32),
            "TONGBAN_ACTION_TOKEN": secrets.token_urlsafe(32),
            "TONGBAN_CASES_DB": str(folder / "cases.db"),
            "TONGBAN_CONSOLE_DB": str(folder / "console.db"),
            "TONGBAN_ANSWERS_DB": str(folder / "answers.db"),
            "TONGBAN_HANDOFF_DB": str(folder / "handoff.db"),
            "RASA_TELEMETRY_ENABLED": "false",
            "TF_CPP_MIN_LOG_LEVEL": "2",
        }
        | (env or {})
    )
    if prepare is not None:
        prepare(full_env)
    output = folder / "run.out"
    started = time.monotonic()
    with output.open("wb") as out:
        process = subprocess.Popen(
            ["bash", "tools/run.sh"], cwd=ROOT, env=full_env, stdout=out,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group, stopped as one below
        )  # fmt: skip
    ready = f"网页聊天 / web chat: http://localhost:{rasa_port}/webhooks/webchat/"

    def banner_printed(text: str) -> bool:  # the whole banner, up to its last line
        return ready in text and "Ctrl-C to stop" in text

    try:
        while not banner_printed(text := output.read_text(encoding="utf-8", errors="replace")):
            if process.poll() is not None or time.monotonic() - started > START_TIMEOUT + 30:
                logs = "".join(
                    _tail(folder / n) for n in ("rasa.log", "actions.log") if (folder / n).exists()
                )
                pytest.fail(f"tools/run.sh did not start the servers:\n{text}\n{logs}")
            time.sleep(1)
        yield Started(rasa_port, folder, output, time.monotonic() - started)
    finally:
        _stop(process)


def tongban_command(args: list[str], env: dict[str, str], stdin: str = "") -> None:
    """The `tongban` CLI with the servers' environment (staff accounts, case imports)."""
    result = subprocess.run(
        [str(ROOT / ".venv/bin/tongban"), *args], input=stdin, capture_output=True, text=True,
        env=env, cwd=ROOT, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    folder = tmp_path_factory.mktemp("servers")
    try:
        with run_servers(folder) as started:
            yield Servers(
                base=started.url("webhooks/webchat/"),
                rasa_port=started.rasa_port,
                feedback_db=folder / "feedback.db",
                output=started.output,
                logs=folder,
                started_in=started.started_in,
            )
    finally:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        for name in ("rasa.log", "actions.log", "run.out"):
            if (folder / name).exists():
                shutil.copy(folder / name, ARTIFACTS / f"browser-{name}")


def _tail(path: Path, lines: int = 30) -> str:
    return f"--- {path.name}\n" + "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM to run.sh's process group (run.sh and both servers), SIGKILL if it lingers."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    # run.sh has exited; make sure none of its servers outlived it.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.5)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: run tools/install_browser.sh (Debian's chromium)")
    with sync_playwright() as playwright:
        # launch() gives Chromium a fresh, empty --user-data-dir of its own every time.
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@dataclass
class Watched:
    page: Page
    context: BrowserContext
    dialogs: list[str]
    errors: list[str]


def open_context(browser: Browser, **options) -> tuple[BrowserContext, Page, list, list]:
    context = browser.new_context(locale="zh-CN", **options)
    context.set_default_timeout(30_000)
    page = context.new_page()
    dialogs: list[str] = []
    errors: list[str] = []

    def on_dialog(dialog) -> None:
        dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on("pageerror", lambda error: errors.append(str(error)))
    return context, page, dialogs, errors


@pytest.fixture()
def chat(browser: Browser, servers: Servers) -> Iterator[Watched]:
    """A fresh browser context (new sessionStorage and localStorage) on a desktop-sized window."""
    context, page, dialogs, errors = open_context(browser, viewport={"width": 1024, "height": 800})
    yield Watched(page, context, dialogs, errors)
    context.close()


def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{re.sub(r'[^A-Za-z0-9_-]', '_', name)}.png"
    page.screenshot(path=str(path), full_page=False)
    return path


HOST_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>某市政务服务网</title></head>
<body><h1>某市政务服务网</h1><p>办事指南……</p>
<script src="{widget}" defer></script>
</body></html>
"""


@pytest.fixture(scope="session")
def host_site(servers: Servers) -> Iterator[str]:
    """Another site (another origin: 127.0.0.1, its own port) whose page embeds the widget."""
    page = HOST_PAGE.format(widget=f"{servers.base}static/widget.js").encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()
