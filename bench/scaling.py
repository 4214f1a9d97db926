"""Scaling: the same REST load against the embedded default (one Rasa, SQLite) and against the
cluster profile with 1, 2 and 4 Rasa instances (PostgreSQL, Redis, nginx; tongban/cluster.py).

For each: throughput, p50 and p95 at 10 and 50 concurrent conversations, errors, and the resident
memory of each Rasa server; `plot()` draws throughput and p95 against the instance count.

Run alone with `python -m bench.scaling` (writes bench/out/scaling.json and bench/scaling.png);
`python -m bench` runs it as its scaling section. Everything on loopback (nginx 5335-5339, Rasa 5341-5344, actions 5391-5394, embedded 5348/5398).
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
from tongban.cluster import Cluster, ensure_database, free_port

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
        size=size, port=free_port(5335, 5339), base_port=5341, log_dir=OUT / f"scaling-{size}", database_url=DB,
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
        OUT.mkdir(parents=True, exist_ok=True)
        (OUT / "scaling.partial.json").write_text(json.dumps(results, ensure_ascii=False))
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
    clusters = sorted(
        (p for p in results["profiles"] if p["profile"].startswith("cluster")),
        key=lambda p: p["instances"],
    )

    def rate(p: dict, concurrency: int = 50) -> float:
        return next(r["msg_s"] for r in p["runs"] if r["concurrency"] == concurrency)

    base = rate(results["profiles"][0])
    steps = ", ".join(f"{rate(p):.1f} ({p['instances']})" for p in clusters)
    best = max(clusters, key=rate) if clusters else results["profiles"][0]
    per_machine = rate(best)
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
        f"**What limits scaling here.** At 50 concurrent conversations the embedded default "
        f"answers {base:.1f} msg/s; the cluster {steps} msg/s by instance count. One Rasa server "
        f"does not fill a core: each message is CPU work in one event loop (jieba, DIET in "
        f"TensorFlow, the policies) interleaved with waits (the action server's HTTP round trip, "
        f"PostgreSQL reads and writes, the Redis lock), so more processes overlap one's waits "
        f"with another's work, even on {cores} cores. The ceiling is the {cores} cores "
        f"themselves, shared by the load generator, nginx, PostgreSQL, Redis and every server "
        f"(p50 at 50 concurrent is still over a second: requests queue for CPU), and memory: "
        f"each Rasa server holds its own model, about {rss:.0f} MB. The cluster's extra round "
        f"trips cost one instance little against SQLite at this load. The figures are from "
        f"one run on a machine shared with other work; they were not repeated.",
        "",
        f"**N machines (estimate, not measured).** Assume Rasa machines of {cores} cores each "
        f"running {best['instances']} instances with their action servers and nothing else (no "
        f"load generator, no database: so at least the {per_machine:.0f} msg/s measured here "
        f"with everything on one box), PostgreSQL and Redis on their own machines, nginx in "
        f"front, and a citizen in conversation sending one message every 30 s. Then N machines "
        f"serve about {per_machine:.0f}·N msg/s, about {per_machine * 30:,.0f}·N citizens in "
        f"conversation at once (10 machines: about {per_machine * 300:,.0f}), until PostgreSQL's "
        f"writes (a few small INSERTs and one SELECT per message; one server takes thousands per "
        f"second) or one nginx become the limit. Memory: about {rss / 1024:.1f} GB per instance.",
        "",
    ]
    return "\n".join(lines)
