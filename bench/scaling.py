"""Scaling: the same REST load against the embedded default (one Rasa, SQLite) and against the
cluster profile with 1, 2 and 4 Rasa instances (PostgreSQL, Redis, nginx; tongban/cluster.py).

For each: throughput, p50 and p95 at 10 and 50 concurrent conversations, errors, and the resident
memory of each Rasa server; `plot()` draws throughput and p95 against the instance count.

Run alone with `python -m bench.scaling` (writes bench/out/scaling.json and bench/scaling.png);
`python -m bench` runs it as its scaling section. Everything on loopback (ports 5341-5399).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import sys
import time
from pathlib import Path

import sqlalchemy

from bench import load
from tongban.cluster import Cluster, ensure_database

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench/out"
MODEL = ROOT / "models/tongban.tar.gz"
DB = "postgresql://postgres@127.0.0.1:5432/tongban_bench"
PLANS = ((10, 12), (50, 4))  # (concurrent conversations, messages each)
SIZES = (1, 2, 4)


def _fresh_database() -> None:
    admin = sqlalchemy.create_engine(
        "postgresql://postgres@127.0.0.1:5432/postgres", isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(sqlalchemy.text("DROP DATABASE IF EXISTS tongban_bench WITH (FORCE)"))
    admin.dispose()
    ensure_database(DB)


def _runs(url: str) -> list[dict]:
    out = []
    for conversations, turns in PLANS:
        r = asyncio.run(load._load(url, load.TONGBAN_MESSAGES, conversations, turns))
        out.append({"concurrency": conversations, "messages": len(r.latencies_ms) + r.errors,
                    "msg_s": r.throughput, "p50": r.pct(50), "p95": r.pct(95), "errors": r.errors})  # fmt: skip
    return out


def embedded() -> dict:
    """`make run`'s profile: one Rasa with the SQLite tracker store, one action server."""
    work = OUT / "scaling-embedded"
    work.mkdir(parents=True, exist_ok=True)
    endpoints = work / "endpoints.yml"
    text = (ROOT / "endpoints.yml").read_text().replace("localhost:5055", "localhost:5398")
    endpoints.write_text(text.replace('db: "var/tracker.db"', f'db: "{work / "tracker.db"}"'))
    (work / "tracker.db").unlink(missing_ok=True)
    server = load.start(
        "scaling-embedded", ROOT, MODEL, 5348, 5398, endpoints,
        actions_command=[str(load.BIN / "python"), "-m", "tongban.actionserver", "--port", "5398"],
        extra_env={"TONGBAN_ACTION_TOKEN": secrets.token_urlsafe(32),
                   "TONGBAN_SECRET_KEY": secrets.token_urlsafe(32)},
    )  # fmt: skip
    try:
        runs = _runs(server.url)
        rss = [server.rss_mb().get("rasa", 0.0)]
    finally:
        server.stop()
    return {"profile": "embedded (SQLite, 1 process)", "instances": 1, "runs": runs, "rss_mb": rss}


def cluster(size: int) -> dict:
    _fresh_database()
    c = Cluster(
        size=size, port=5391, base_port=5341, log_dir=OUT / f"scaling-{size}", database_url=DB,
        key_prefix="tbbench", start_timeout=900,
    )  # fmt: skip
    began = time.monotonic()
    try:
        c.start()
        cold = time.monotonic() - began
        runs = _runs(f"{c.url}/webhooks/rest/webhook")
        rss = c.rss_mb()
    finally:
        c.stop()
    return {"profile": f"cluster ×{size} (PostgreSQL, Redis, nginx)", "instances": size,
            "runs": runs, "rss_mb": rss, "cold_start_s": cold}  # fmt: skip


def measure(sizes: tuple[int, ...] = SIZES) -> dict:
    results = {"cores": os.cpu_count(), "date": time.strftime("%Y-%m-%d"), "profiles": []}
    print("scaling: embedded default ...", flush=True)
    results["profiles"].append(embedded())
    for size in sizes:
        print(f"scaling: cluster of {size} ...", flush=True)
        results["profiles"].append(cluster(size))
    return results


def table(results: dict) -> list[str]:
    lines = [
        "| profile | concurrent | msg/s | p50 ms | p95 ms | errors | RSS per Rasa MB |",
        "|---|---|---|---|---|---|---|",
    ]
    for p in results["profiles"]:
        rss = ", ".join(f"{m:.0f}" for m in p["rss_mb"])
        for r in p["runs"]:
            lines.append(
                f"| {p['profile']} | {r['concurrency']} | {r['msg_s']:.1f} | {r['p50']:.0f} |"
                f" {r['p95']:.0f} | {r['errors']} of {r['messages']} | {rss} |"
            )
    return lines


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    clusters = [p for p in results["profiles"] if p["profile"].startswith("cluster")]
    base = results["profiles"][0]
    for i, (conc, _) in enumerate(PLANS):
        xs = [p["instances"] for p in clusters]
        left.plot(
            xs, [p["runs"][i]["msg_s"] for p in clusters], "o-", label=f"cluster, {conc} conc."
        )
        right.plot(
            xs, [p["runs"][i]["p95"] for p in clusters], "o-", label=f"cluster, {conc} conc."
        )
        left.axhline(
            base["runs"][i]["msg_s"], ls="--", lw=1, color=f"C{i}", label=f"embedded, {conc}"
        )
        right.axhline(
            base["runs"][i]["p95"], ls="--", lw=1, color=f"C{i}", label=f"embedded, {conc}"
        )
    left.set(xlabel="Rasa instances", ylabel="messages / s", title="Throughput")
    right.set(xlabel="Rasa instances", ylabel="p95 ms", title="p95 latency")
    for ax in (left, right):
        ax.set_xticks(list(SIZES))
        ax.legend(fontsize=7)
    fig.suptitle(f"Tongban scaling on {results['cores']} cores (REST, loopback)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> int:
    sizes = tuple(int(s) for s in sys.argv[1:]) or SIZES
    results = measure(sizes)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "scaling.json").write_text(json.dumps(results, indent=1, ensure_ascii=False))
    plot(results, ROOT / "bench/scaling.png")
    print("\n".join(table(results)))
    return 0


if __name__ == "__main__":
    sys.exit(main())


def _best(results: dict, concurrency: int) -> tuple[dict, dict]:
    runs = [
        (p, next(r for r in p["runs"] if r["concurrency"] == concurrency))
        for p in results["profiles"]
    ]
    return max(runs, key=lambda pr: pr[1]["msg_s"])


def section(results: dict | None) -> str:
    """The report's scaling section (empty when the speed part was skipped)."""
    if not results:
        return ""
    cores = results["cores"] or 2
    clusters = [p for p in results["profiles"] if p["profile"].startswith("cluster")]
    one = next((p for p in clusters if p["instances"] == 1), None)
    best_profile, best = _best(results, 50)
    per_instance = max(r["msg_s"] for r in one["runs"]) if one else best["msg_s"]
    rss = max((m for p in results["profiles"] for m in p["rss_mb"]), default=0.0)
    lines = [
        "",
        f"## Scaling: embedded default vs cluster profile (measured {results['date']}, {cores} cores)",
        "",
        "Same REST load as above (`bench/scaling.py`): 10 conversations × 12 messages and 50 × 4, "
        "through nginx for the cluster (PostgreSQL tracker store, Redis lock store and counters), "
        "straight to Rasa for the embedded default (SQLite). Load generator, nginx, PostgreSQL, "
        "Redis and every Rasa and action server share the same cores.",
        "",
        *table(results),
        "",
        "![scaling](scaling.png)",
        "",
        f"**What limits scaling here.** Each message is CPU work in one Rasa process (jieba, DIET "
        f"inference in TensorFlow, the policies, then the action server's answer): a Rasa server "
        f"is one event loop and uses about one core at most. On {cores} cores, a second instance "
        f"can use the second core, but it shares it with its action server, PostgreSQL, Redis, "
        f"nginx and the load generator, so two instances give much less than twice one; four "
        f"instances on {cores} cores only add context switching and about {rss:.0f} MB of memory "
        f"each. The cluster also pays for PostgreSQL and Redis round trips per message (the lock, "
        f"reading and writing the tracker), which is why one clustered instance is a little "
        f"slower than the embedded default.",
        "",
        f"**N machines (estimate, not measured).** Best measured here: {best['msg_s']:.1f} msg/s "
        f"({best_profile['profile']}, 50 concurrent); one instance alone {per_instance:.1f} msg/s. "
        f"Assume machines of {cores} cores, each running {cores} Rasa instances with their "
        f"action servers and nothing else, PostgreSQL and Redis on their own machine, nginx in "
        f"front, and a citizen sending one message every 30 s while in a conversation. Then "
        f"N machines serve about N × {cores} × {per_instance:.1f} ≈ {cores * per_instance:.0f}·N "
        f"msg/s, i.e. about {cores * per_instance * 30:.0f}·N citizens in conversation at once, "
        f"until PostgreSQL's writes (a few small INSERTs per message; one PostgreSQL server "
        f"takes thousands per second) or Redis become the limit, far beyond 10 machines. Each "
        f"instance needs about {rss / 1024:.1f} GB of memory for its model.",
        "",
    ]
    return "\n".join(lines)
