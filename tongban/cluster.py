"""The cluster profile (`make run-cluster`): several Rasa servers, each with its own action server,
sharing PostgreSQL (conversations, cases, feedback) and Redis (conversation locks, case-failure
counters, socket.io turns and rooms, WeChat dedup), behind nginx.

The same configuration runs across machines: every instance gets its settings from the
environment (TONGBAN_DATABASE_URL, TONGBAN_REDIS_URL, TONGBAN_SECRET_KEY, TONGBAN_ACTION_TOKEN,
TONGBAN_TRUSTED_PROXIES) and an endpoints file written from `endpoints_yaml()`; nginx gets the
list of upstreams from `nginx_conf()`. See README, "Several machines".

Used by tools/run_cluster.sh, the cluster tests (tests/cluster) and the scaling benchmark
(bench/scaling.py), from the project folder (relative paths are the working directory's).
nginx listens on TONGBAN_HOST (127.0.0.1 unless configured otherwise); the Rasa and action
servers behind it listen on loopback only.

Settings for `python -m tongban.cluster` (tongban/settings.py): TONGBAN_CLUSTER_SIZE (2),
TONGBAN_CLUSTER_PORT (8080), TONGBAN_CLUSTER_BASE_PORT (5301: Rasa on 5301.., action servers on
base+50..), TONGBAN_DATABASE_URL (postgresql://postgres@127.0.0.1:5432/tongban, created when
missing), TONGBAN_REDIS_URL (redis://127.0.0.1:6379/0), TONGBAN_LOG_DIR (var/cluster).
The children get the same environment, plus the shared-state settings below.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from tongban.settings import settings
from tongban.stores import shared

BIN = Path(sys.executable).parent
QUIET = {"RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONWARNINGS": "ignore"}
DEFAULT_DB = "postgresql://postgres@127.0.0.1:5432/tongban"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
MAX_BODY = (
    "64k"  # the channels' 64 KiB limit (tongban.settings.MAX_BODY_BYTES), enforced at the edge
)


def secrets_env(path: Path = Path("var/secrets.env")) -> dict[str, str]:
    """TONGBAN_SECRET_KEY and TONGBAN_ACTION_TOKEN as tools/secrets.sh gives them (shared by every
    instance: sealed slots and signed message ids must verify on all of them): the settings'
    when both are set, otherwise the file's, generated when missing."""
    config = settings()
    values = {}
    if not config.ephemeral_secret:
        values["TONGBAN_SECRET_KEY"] = config.secret_key.decode()
    if config.action_token:
        values["TONGBAN_ACTION_TOKEN"] = config.action_token
    if len(values) == 2:
        return values
    if not path.exists() or not path.stat().st_size:
        path.parent.mkdir(parents=True, exist_ok=True)
        old = os.umask(0o077)
        try:
            path.write_text(
                f"TONGBAN_SECRET_KEY={secrets.token_urlsafe(32)}\n"
                f"TONGBAN_ACTION_TOKEN={secrets.token_urlsafe(32)}\n"
            )
        finally:
            os.umask(old)
    for line in path.read_text().splitlines():
        key, _, value = line.partition("=")
        if key in ("TONGBAN_SECRET_KEY", "TONGBAN_ACTION_TOKEN"):
            values.setdefault(key, value.strip())
    return values


def ensure_database(url: str) -> None:
    """Create the PostgreSQL database named in `url` when it does not exist yet."""
    import sqlalchemy

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl()
    engine = sqlalchemy.create_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            found = conn.execute(
                sqlalchemy.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
            ).fetchone()
            if not found:
                conn.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()


def endpoints_yaml(actions_url: str, database_url: str, redis_url: str, prefix: str) -> str:
    """One instance's endpoints.yml: its own action server, the shared tracker and lock stores."""
    db, rd = urlsplit(database_url), urlsplit(redis_url)
    redis_db = (rd.path or "/0").lstrip("/") or "0"
    lines = [
        "action_endpoint:",
        f'  url: "{actions_url}"',
        "  headers:",
        "    Authorization: Bearer ${TONGBAN_ACTION_TOKEN}",
        "  enable_selective_domain: true",
        "tracker_store:",
        "  type: tongban.stores.tracker.RedactingSQLTrackerStore",
        '  dialect: "postgresql"',
        f'  url: "{db.hostname or "127.0.0.1"}"',
        f"  port: {db.port or 5432}",
        f'  db: "{db.path.lstrip("/")}"',
        f'  username: "{db.username or "postgres"}"',
        '  login_db: "postgres"',
    ]
    if db.password:
        lines.append("  password: ${TONGBAN_DATABASE_PASSWORD}")
    lines += [
        "lock_store:",
        "  type: redis",
        f'  url: "{rd.hostname or "127.0.0.1"}"',
        f"  port: {rd.port or 6379}",
        f"  db: {redis_db}",
        f'  key_prefix: "{prefix}"',
    ]
    if rd.password:
        lines.append("  password: ${TONGBAN_REDIS_PASSWORD}")
    return "\n".join(lines) + "\n"


def nginx_conf(port: int, upstreams: list[str], prefix: Path, listen: str = "127.0.0.1") -> str:
    """nginx in front of the Rasa servers `upstreams` ("host:port"), from Debian's package.

    - Plain requests (REST, pages, WeChat): least connections; a server that refuses a
      connection or times out is out of rotation for 10 s (max_fails=1, passive health checks,
      which is what open-source nginx has), and the request goes to the next one. A POST that
      was already sent is never resent (nginx's default for non-idempotent requests), so a
      message is never run twice because an instance died while working on it.
    - socket.io (long-polling): sticky by a cookie naming the instance (`tongban_node`), set on
      the first response; if that instance is gone, the client is sent to another and re-pinned
      (its socket.io session is gone too: the client reconnects and its session_request names
      the same conversation, held in PostgreSQL).
    - Bodies over 64 KiB are refused here with 413, as by the channels themselves.
    """
    names = [f"n{i + 1}" for i in range(len(upstreams))]
    servers = "\n".join(f"        server {u} max_fails=1 fail_timeout=10s;" for u in upstreams)
    by_cookie = "\n".join(f"        {n} {u};" for n, u in zip(names, upstreams, strict=True))
    by_addr = "\n".join(f'        "~{u}$" {n};' for n, u in zip(names, upstreams, strict=True))
    tmp = prefix / "tmp"
    return f"""# Generated by tongban/cluster.py (make run-cluster); edit the upstream list for other machines.
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log {prefix}/nginx-access.log;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    client_max_body_size {MAX_BODY};
    client_body_buffer_size {MAX_BODY};
    server_tokens off;

    upstream tongban {{
        least_conn;
{servers}
    }}
    map $cookie_tongban_node $tongban_pinned {{
        default tongban;
{by_cookie}
    }}
    map $upstream_addr $tongban_served_by {{
        default "";
{by_addr}
    }}

    server {{
        listen {listen}:{port};
        proxy_http_version 1.1;
        proxy_set_header Host $host;
        # nginx is the edge: the client's address replaces whatever it claimed.
        proxy_set_header X-Forwarded-For $remote_addr;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_connect_timeout 2s;
        proxy_read_timeout 75s;
        proxy_next_upstream error timeout;
        proxy_next_upstream_tries 3;

        location /socket.io/ {{
            proxy_pass http://$tongban_pinned;
            proxy_buffering off;
            add_header Set-Cookie "tongban_node=$tongban_served_by; Path=/socket.io; HttpOnly; SameSite=Lax";
            proxy_intercept_errors on;
            error_page 502 504 = @socketio_repin;
        }}
        location @socketio_repin {{
            proxy_pass http://tongban;
            proxy_buffering off;
            add_header Set-Cookie "tongban_node=$tongban_served_by; Path=/socket.io; HttpOnly; SameSite=Lax";
        }}
        location = /cluster/health {{
            access_log off;
            proxy_pass http://tongban/;
        }}
        location / {{
            proxy_pass http://tongban;
        }}
    }}
}}
"""


def free_port(first: int, last: int) -> int:
    """The first port in the range that nothing on loopback listens on."""
    import socket

    for port in range(first, last + 1):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    raise RuntimeError(f"no free port in {first}-{last}")


def find_nginx() -> str | None:
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None
    )


def _get(url: str, timeout: float = 2) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as reply:
            return reply.status < 500
    except (urllib.error.URLError, OSError):
        return False


@dataclass
class Instance:
    index: int
    rasa_port: int
    actions_port: int
    rasa: subprocess.Popen | None = None
    actions: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.rasa_port}"


@dataclass
class Cluster:
    size: int = 2
    port: int = 8080
    base_port: int = 5301
    log_dir: Path = Path("var/cluster")
    database_url: str = DEFAULT_DB
    redis_url: str = DEFAULT_REDIS
    key_prefix: str = "tongban"
    model: Path = Path("models/tongban.tar.gz")
    extra_env: dict[str, str] = field(default_factory=dict)
    instances: list[Instance] = field(default_factory=list)
    nginx: subprocess.Popen | None = None
    start_timeout: float = 420

    def __post_init__(self) -> None:
        self.log_dir = Path(self.log_dir)
        self.instances = [
            Instance(i, self.base_port + i, self.base_port + 50 + i) for i in range(self.size)
        ]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        proxies = ",".join(str(n) for n in settings().trusted_proxies) or "127.0.0.1/32"
        return {
            "SQL_POOL_SIZE": "10",  # Rasa's pool for the PostgreSQL tracker store (per process)
            **os.environ,
            **QUIET,
            **secrets_env(),
            "TONGBAN_DATABASE_URL": self.database_url,
            "TONGBAN_REDIS_URL": self.redis_url,
            "TONGBAN_KEY_PREFIX": self.key_prefix,
            "TONGBAN_TRUSTED_PROXIES": proxies,
            **self.extra_env,
        }

    # ---------------------------------------------------------------- preparing ------------

    def prepare(self, import_demo: bool = True) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self.log_dir / "tmp" / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(self.log_dir / "tmp", 0o1777)
        for sub in (self.log_dir / "tmp").iterdir():
            os.chmod(sub, 0o1777)
        ensure_database(self.database_url)
        # Once, before the instances start (each would otherwise wait for the others' lock).
        shared.upgrade(shared.engine(self.database_url), self.key_prefix)
        for inst in self.instances:
            (self.log_dir / f"endpoints.{inst.index + 1}.yml").write_text(
                endpoints_yaml(
                    f"http://127.0.0.1:{inst.actions_port}/webhook",
                    self.database_url,
                    self.redis_url,
                    self.key_prefix,
                )
            )
        (self.log_dir / "nginx.conf").write_text(
            nginx_conf(
                self.port,
                [f"127.0.0.1:{i.rasa_port}" for i in self.instances],
                self.log_dir,
                listen=settings().host,
            )
        )
        if import_demo:
            subprocess.run(
                [str(BIN / "tongban"), "cases", "import", "demo/cases.yaml"],
                env=self.env(), check=True, stdout=subprocess.DEVNULL,
            )  # fmt: skip

    # ---------------------------------------------------------------- processes -----------

    def _log(self, name: str):
        return open(self.log_dir / name, "ab")

    def start_actions(self, i: int) -> None:
        inst = self.instances[i]
        inst.actions = subprocess.Popen(
            [str(BIN / "python"), "-m", "tongban.actionserver", "--port", str(inst.actions_port)],
            env=self.env(), stdout=self._log(f"actions.{i + 1}.log"),
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip

    def start_rasa(self, i: int) -> None:
        inst = self.instances[i]
        inst.rasa = subprocess.Popen(  # behind nginx: loopback only
            [str(BIN / "rasa"), "run", "--interface", "127.0.0.1", "--port", str(inst.rasa_port),
             "--model", str(self.model), "--endpoints", str(self.log_dir / f"endpoints.{i + 1}.yml"),
             "--credentials", "credentials.yml"],
            env=self.env(), stdout=self._log(f"rasa.{i + 1}.log"),
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip

    def start_nginx(self) -> None:
        binary = find_nginx()
        if binary is None:
            raise RuntimeError("nginx is not installed (tools/run_cluster.sh installs it)")
        conf = self.log_dir / "nginx.conf"
        subprocess.run([binary, "-t", "-q", "-p", str(self.log_dir), "-c", str(conf)], check=True)
        self.nginx = subprocess.Popen(
            [binary, "-p", str(self.log_dir), "-c", str(conf), "-g", "daemon off;"],
            stdout=self._log("nginx.out"), stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip

    @staticmethod
    def _stop(proc: subprocess.Popen | None, sig: int = signal.SIGTERM, wait: float = 20) -> None:
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(sig)
        try:
            proc.wait(wait)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)

    def kill_rasa(self, i: int) -> None:
        """As a crash: SIGKILL, nothing flushed."""
        self._stop(self.instances[i].rasa, signal.SIGKILL)

    def stop_rasa(self, i: int) -> None:
        self._stop(self.instances[i].rasa)

    def stop_actions(self, i: int) -> None:
        self._stop(self.instances[i].actions)

    def wait_actions(self, i: int) -> None:
        inst = self.instances[i]
        self._wait(f"http://127.0.0.1:{inst.actions_port}/health", inst.actions, f"actions.{i + 1}")

    def wait_rasa(self, i: int) -> None:
        inst = self.instances[i]
        self._wait(f"{inst.url}/", inst.rasa, f"rasa.{i + 1}")

    def _wait(self, url: str, proc: subprocess.Popen | None, name: str) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if _get(url):
                return
            if proc is not None and proc.poll() is not None:
                tail = (self.log_dir / f"{name}.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"{name} exited ({proc.returncode}):\n{tail}")
            time.sleep(0.5)
        raise RuntimeError(f"{name} did not start within {self.start_timeout:.0f} s ({url})")

    def start(self) -> None:
        """Everything, in parallel where it can be; returns when nginx answers."""
        self.prepare()
        for i in range(self.size):
            self.start_actions(i)
            self.start_rasa(i)
        for i in range(self.size):
            self.wait_actions(i)
        for i in range(self.size):
            self.wait_rasa(i)
        self.start_nginx()
        self._wait(f"{self.url}/cluster/health", self.nginx, "nginx-error")

    def stop(self) -> None:
        self._stop(self.nginx, signal.SIGQUIT)
        for inst in self.instances:
            self._stop(inst.rasa)
            self._stop(inst.actions)

    def rss_mb(self) -> list[float]:
        """Resident memory of each Rasa server, MB."""
        out = []
        for inst in self.instances:
            try:
                status = Path(f"/proc/{inst.rasa.pid}/status").read_text()
                kb = next(
                    int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS")
                )
                out.append(kb / 1024)
            except (AttributeError, OSError, StopIteration):
                out.append(0.0)
        return out


def main() -> int:
    config = settings()
    cluster = Cluster(
        size=config.cluster_size,
        port=config.cluster_port,
        base_port=config.cluster_base_port,
        log_dir=config.cluster_log_dir,
        database_url=config.database_url or DEFAULT_DB,
        redis_url=config.redis_url or DEFAULT_REDIS,
        key_prefix=config.key_prefix,
    )
    print(f"正在启动通办助手集群 / starting a Tongban cluster of {cluster.size} ...", flush=True)
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        if not stopping:
            stopping = True
            print("\n正在停止 / stopping ...", flush=True)
            cluster.stop()
        sys.exit(0)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        cluster.start()
    except Exception as exc:
        print(f"集群未能启动 / cluster failed to start: {exc}", file=sys.stderr)
        cluster.stop()
        return 1
    servers = "\n".join(
        f"  Rasa {i.index + 1}: {i.url}   动作服务器 / actions: http://127.0.0.1:{i.actions_port}/health"
        for i in cluster.instances
    )
    print(
        f"""
通办助手集群已启动 / Tongban cluster is running:
  入口 / entry (nginx): http://localhost:{cluster.port}
  网页聊天 / web chat:  http://localhost:{cluster.port}/webhooks/webchat/
  REST:                 http://localhost:{cluster.port}/webhooks/rest/webhook
{servers}
  PostgreSQL: {urlsplit(cluster.database_url)._replace(netloc=urlsplit(cluster.database_url).hostname or "").geturl()}   Redis: {urlsplit(cluster.redis_url).hostname}:{urlsplit(cluster.redis_url).port or 6379}
  日志 / logs: {cluster.log_dir}/      按 Ctrl-C 停止 / Ctrl-C to stop""",
        flush=True,
    )
    while True:
        for inst in cluster.instances:
            for proc, name in ((inst.rasa, "Rasa"), (inst.actions, "actions")):
                if proc is not None and proc.poll() is not None:
                    print(
                        f"{name} {inst.index + 1} exited ({proc.returncode}); see the logs",
                        flush=True,
                    )
                    stop()
        time.sleep(1)


if __name__ == "__main__":
    sys.exit(main())
