"""One cluster for every test here: two Rasa servers, each with its own action server, on
PostgreSQL (database tongban_cluster_test) and Redis (keys under "tbtest"), behind nginx on
a free port of 127.0.0.1:5380-5390. Everything on loopback; every request loop is bounded.

Run with `pytest tests/cluster` (the main `pytest` run ignores this folder: it starts servers).
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import sqlalchemy

from tongban.cluster import Cluster, find_nginx, free_port

ROOT = Path(__file__).resolve().parents[2]  # the project folder (the servers' working directory)
DB = "postgresql://postgres@127.0.0.1:5432/tongban_cluster_test"
REDIS = "redis://127.0.0.1:6379/0"
PREFIX = "tbtest"
MODEL = ROOT / "models/tongban.tar.gz"


def pg_up() -> bool:
    return subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1"], check=False).returncode == 0


def redis_up() -> bool:
    try:
        return bool(redis.Redis(socket_timeout=1).ping())
    except redis.RedisError:
        return False


def start_postgres() -> None:
    """The machine notes' command; returns when it accepts connections."""
    if not pg_up():
        version = sorted(os.listdir("/etc/postgresql"))[0]
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"], check=False
        )
    for _ in range(60):
        if pg_up():
            return
        time.sleep(0.5)


def stop_postgres() -> None:
    version = sorted(os.listdir("/etc/postgresql"))[0]
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "stop", "-m", "fast"],
        check=True,
    )


def start_redis() -> None:
    if not redis_up():
        Path("/var/log/redis").mkdir(parents=True, exist_ok=True)
        Path("/var/lib/redis").mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "-::1", "--port", "6379",
             "--save", "", "--appendonly", "no", "--dir", "/var/lib/redis",
             "--logfile", "/var/log/redis/ci.log"],
            check=False,
        )  # fmt: skip
    for _ in range(60):
        if redis_up():
            return
        time.sleep(0.5)


def stop_redis() -> None:
    subprocess.run(["redis-cli", "-h", "127.0.0.1", "shutdown", "nosave"], check=False)
    for _ in range(40):
        if not redis_up():
            return
        time.sleep(0.25)


def _fresh_state() -> None:
    admin = sqlalchemy.create_engine(
        "postgresql://postgres@127.0.0.1:5432/postgres", isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(sqlalchemy.text("DROP DATABASE IF EXISTS tongban_cluster_test WITH (FORCE)"))
    admin.dispose()
    client = redis.Redis()
    for key in client.scan_iter(f"{PREFIX}*"):
        client.delete(key)


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    if find_nginx() is None:
        pytest.fail("nginx is not installed: run tools/run_cluster.sh once (make run-cluster)")
    if not MODEL.exists():
        pytest.fail("no trained model: run make train")
    start_postgres()
    start_redis()
    _fresh_state()
    c = Cluster(
        size=2, port=free_port(5380, 5390), base_port=5321, log_dir=ROOT / "var/cluster-test",
        database_url=DB, redis_url=REDIS, key_prefix=PREFIX,
        # The handoff test needs agents at any hour (not only mon-fri 09:00-17:00).
        extra_env={"TONGBAN_HANDOFF_HOURS": "always"},
    )  # fmt: skip
    for log in c.log_dir.glob("*.log"):
        log.unlink()
    try:
        c.start()
        yield c
    finally:
        c.stop()
        start_postgres()
        start_redis()


@pytest.fixture(scope="session")
def db(cluster: Cluster) -> Iterator[sqlalchemy.engine.Engine]:
    engine = sqlalchemy.create_engine(DB, pool_pre_ping=True)
    yield engine
    engine.dispose()
