"""Speed benchmarks over REST: latency, throughput, errors, memory, cold start, for any assistant.

The same load runs against Tongban and against Rasa's own `rasa init` template assistant.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import statistics
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv/bin"
QUIET = {"RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONWARNINGS": "ignore"}

TONGBAN_MESSAGES = [
    "我是江西人，在深圳打工，能领结婚证吗？要带什么？", "异地就医备案怎么办", "换驾照要带什么材料",
    "宜昌能领结婚证吗", "社保卡丢了怎么办", "夫妻投靠迁户口去哪里办", "你好", "谢谢",
    "公积金退休提取要多久", "门诊慢特病哪些地方能直接结算",
]  # fmt: skip
TEMPLATE_MESSAGES = [
    "hello",
    "I am happy",
    "I am sad",
    "are you a bot?",
    "goodbye",
    "yes",
    "no",
    "great",
]


@dataclass
class Server:
    name: str
    processes: list[subprocess.Popen] = field(default_factory=list)
    url: str = ""
    cold_start: float = 0.0

    def rss_mb(self) -> dict[str, float]:
        out = {}
        for label, proc in zip(("rasa", "actions"), self.processes, strict=False):
            try:
                status = Path(f"/proc/{proc.pid}/status").read_text()
            except OSError:
                continue
            kb = next(
                int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS")
            )
            out[label] = kb / 1024
        return out

    def stop(self) -> None:
        for proc in self.processes:
            proc.terminate()
        for proc in self.processes:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def _wait(url: str, timeout: float = 240) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"{url} did not come up")


def start(
    name: str,
    project: Path,
    model: Path,
    rasa_port: int,
    actions_port: int,
    endpoints: Path,
    actions_command: list[str] | None = None,
    extra_env: dict[str, str] | None = None,
) -> Server:
    """Start an assistant; `actions_command` replaces rasa-sdk's plain action server."""
    env = {**os.environ, **QUIET, **(extra_env or {})}
    logs = ROOT / "bench/out"
    logs.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    command = actions_command or [
        str(BIN / "rasa"), "run", "actions", "--port", str(actions_port), "--actions", "actions",
    ]  # fmt: skip
    actions = subprocess.Popen(
        command, cwd=project, env=env, stdout=(logs / f"{name}-actions.log").open("w"),
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    rasa = subprocess.Popen(
        [str(BIN / "rasa"), "run", "--port", str(rasa_port), "--model", str(model), "--endpoints", str(endpoints)],
        cwd=project, env=env, stdout=(logs / f"{name}-rasa.log").open("w"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    server = Server(name, [rasa, actions], f"http://127.0.0.1:{rasa_port}/webhooks/rest/webhook")
    _wait(f"http://127.0.0.1:{actions_port}/health")
    _wait(f"http://127.0.0.1:{rasa_port}/")
    server.cold_start = time.perf_counter() - began
    return server


@dataclass
class LoadResult:
    concurrency: int
    latencies_ms: list[float]
    errors: int
    seconds: float
    silent: int = 0  # answered with no message at all

    def pct(self, p: float) -> float:
        data = sorted(self.latencies_ms)
        return data[min(len(data) - 1, round(p / 100 * (len(data) - 1)))] if data else float("nan")

    @property
    def throughput(self) -> float:
        return len(self.latencies_ms) / self.seconds if self.seconds else 0.0


async def _conversation(
    session, url: str, sender: str, messages: list[str], out: list, errors: list, silent: list
) -> None:
    """One user's messages in order. An error is a failed request or a malformed answer; a
    well-formed empty answer (the template says nothing to "yes" out of context) is counted
    apart, as `silent`."""
    for text in messages:
        start = time.perf_counter()
        try:
            async with session.post(url, json={"sender": sender, "message": text}) as response:
                body = await response.json()
                if response.status != 200 or not isinstance(body, list):
                    errors.append(response.status)
                    continue
        except Exception as exc:
            errors.append(type(exc).__name__)
            continue
        out.append((time.perf_counter() - start) * 1000)
        if not body:
            silent.append(text)


async def _load(url: str, messages: list[str], conversations: int, turns: int) -> LoadResult:
    import aiohttp

    rng = random.Random(42)
    latencies: list[float] = []
    errors: list = []
    silent: list = []
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        for warm in messages[
            :3
        ]:  # first-message costs (jieba, TF graph) are cold start, not latency
            await session.post(url, json={"sender": "warmup", "message": warm})
        start = time.perf_counter()
        await asyncio.gather(
            *(
                _conversation(
                    session,
                    url,
                    f"bench-{conversations}-{i}",
                    rng.choices(messages, k=turns),
                    latencies,
                    errors,
                    silent,
                )
                for i in range(conversations)
            )
        )
        seconds = time.perf_counter() - start
    return LoadResult(conversations, latencies, len(errors), seconds, len(silent))


def run_load(url: str, messages: list[str]) -> list[LoadResult]:
    """Sequential (1 conversation x 200 messages), then 10 and 50 concurrent conversations."""
    plans = [(1, 200), (10, 20), (50, 6)]
    return [asyncio.run(_load(url, messages, c, t)) for c, t in plans]


def template_assistant(work: Path) -> tuple[Path, Path, float]:
    """`rasa init --no-prompt` in a temporary directory, trained there: (project, model, seconds)."""
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    env = {**os.environ, **QUIET}
    subprocess.run([str(BIN / "rasa"), "init", "--no-prompt", "--init-dir", str(work)], cwd=work, env=env,
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    for old in (work / "models").glob("*.tar.gz"):
        old.unlink()
    began = time.perf_counter()
    subprocess.run([str(BIN / "rasa"), "train", "--fixed-model-name", "template", "--out", "models"], cwd=work,
                   env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    seconds = time.perf_counter() - began
    (work / "endpoints.yml").write_text(
        'action_endpoint:\n  url: "http://localhost:5255/webhook"\n', encoding="utf-8"
    )
    return work, work / "models/template.tar.gz", seconds


def kb_engine() -> dict[str, float]:
    """Knowledge-base load time and answer latency of `tongban` alone."""
    from tongban import Tongban
    from tongban.kb import load_knowledge

    loads = []
    for _ in range(5):
        began = time.perf_counter()
        kb = load_knowledge()
        loads.append(time.perf_counter() - began)
    tongban = Tongban(kb)
    tongban.resolver.warm_up()
    latencies = []
    for _ in range(100):
        for text in TONGBAN_MESSAGES:
            began = time.perf_counter()
            tongban.ask(text, as_of="2024-01-15")
            latencies.append((time.perf_counter() - began) * 1000)
    latencies.sort()
    return {
        "kb_load_s": statistics.median(loads),
        "answer_p50_ms": statistics.median(latencies),
        "answer_p95_ms": latencies[int(0.95 * (len(latencies) - 1))],
        "answer_p99_ms": latencies[int(0.99 * (len(latencies) - 1))],
    }
