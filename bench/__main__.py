"""`make bench`: measure accuracy and speed side by side with the baselines, write bench/REPORT.md.

Takes about 50 minutes on 2 cores (cross-validation is 20 of them). Options: --skip-cv (keeps the
last cross-validation figures, with their date), --skip-speed, --baseline-epochs N.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import secrets
import subprocess
import time
from collections import Counter
from pathlib import Path

from bench import console_search, load, nlu, real, replies, scaling

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench/out"
REPORT = ROOT / "bench/REPORT.md"
TARGETS = {"intent": 0.97, "entity": 0.95, "item": 0.95, "train_s": 300}


def _plot_confusion(scores: nlu.Scores, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels, matrix = scores.confusion
    fig, ax = plt.subplots(figsize=(9, 8))
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=7)
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    for i, row in enumerate(matrix):
        for j, value in enumerate(row):
            if value:
                ax.text(
                    j,
                    i,
                    value,
                    ha="center",
                    va="center",
                    fontsize=6,
                    color="red" if i != j else "black",
                )
    ax.set_xlabel("predicted")
    ax.set_ylabel("expected")
    ax.set_title(f"Intent confusion on the held-out set ({scores.n} messages)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _plot_latency(results: dict[str, list[load.LoadResult]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4))
    width = 0.38
    for offset, (name, runs) in enumerate(results.items()):
        xs = [i + offset * width for i in range(len(runs))]
        ax.bar(xs, [r.pct(50) for r in runs], width, label=f"{name} p50")
        ax.scatter(xs, [r.pct(95) for r in runs], marker="_", s=300, color="black")
    ax.set_xticks(
        [i + width / 2 for i in range(3)], ["sequential", "10 concurrent", "50 concurrent"]
    )
    ax.set_ylabel("ms (bar: p50, dash: p95)")
    ax.set_title("REST end-to-end latency")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _train_full() -> tuple[float, Path]:
    began = time.perf_counter()
    subprocess.run(
        [str(nlu.BIN / "rasa"), "train", "--force", "--fixed-model-name", "bench", "--out", str(OUT / "models")],
        cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    return time.perf_counter() - began, OUT / "models/bench.tar.gz"


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--skip-cv", action="store_true")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--baseline-epochs", type=int, default=40)
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    facts: dict = {
        "date": dt.datetime.now().isoformat(timespec="minutes"),
        "machine": platform.machine(),
    }

    print("training Tongban from scratch ...", flush=True)
    train_seconds, model = _train_full()
    facts["train_s"], facts["model_mb"] = train_seconds, model.stat().st_size / 2**20

    print("held-out evaluation ...", flush=True)
    scores = [nlu.evaluate("通办助手 / Tongban", model, train_seconds, "config.yml")]
    for name, base_model, seconds, note in nlu.baselines(OUT / "baselines", args.baseline_epochs):
        scores.append(nlu.evaluate(name, base_model, seconds, note))
    _plot_confusion(scores[0], ROOT / "bench/confusion.png")

    cv = None
    if not args.skip_cv:
        print("5-fold cross-validation ...", flush=True)
        cv = nlu.cross_validation(OUT / "cv")
        cv["date"] = facts["date"]
    elif (OUT / "results.json").exists():  # keep the last measured figures, with their date
        cv = json.loads((OUT / "results.json").read_text(encoding="utf-8")).get("cv")

    speed, template_train = {}, None
    if not args.skip_speed:
        print("speed: Tongban ...", flush=True)
        server = load.start(
            "tongban", ROOT, model, 5105, 5155, _bench_endpoints(),
            actions_command=[str(nlu.BIN / "python"), "-m", "tongban.actionserver", "--port", "5155"],
            extra_env={"TONGBAN_ACTION_TOKEN": secrets.token_urlsafe(32)},
        )  # fmt: skip
        speed["通办助手 / Tongban"] = (
            load.run_load(server.url, load.TONGBAN_MESSAGES),
            server.rss_mb(),
            server.cold_start,
        )
        server.stop()
        print("speed: rasa init template ...", flush=True)
        project, template_model, template_train = load.template_assistant(OUT / "template")
        server = load.start(
            "template", project, template_model, 5205, 5255, project / "endpoints.yml"
        )
        speed["rasa init 模板 / template"] = (
            load.run_load(server.url, load.TEMPLATE_MESSAGES),
            server.rss_mb(),
            server.cold_start,
        )
        server.stop()
        _plot_latency({k: v[0] for k, v in speed.items()}, ROOT / "bench/latency.png")
    engine = load.kb_engine()
    print("answer lengths ...", flush=True)
    facts["lengths"] = replies.lengths()
    print("real citizens' questions ...", flush=True)
    facts["real"] = real.summary(real.run(model=model))
    facts["real_engine"] = real.summary(real.run())
    print("console search ...", flush=True)
    facts["console_search"] = console_search.run()

    if not args.skip_speed:
        print("scaling: embedded default and clusters of 1, 2, 4 ...", flush=True)
        facts["scaling"] = scaling.measure()
        scaling.plot(facts["scaling"], ROOT / "bench/scaling.png")
    report = _report(facts, scores, cv, speed, template_train, engine)
    REPORT.write_text(report + scaling.section(facts.get("scaling")), encoding="utf-8")
    (OUT / "results.json").write_text(
        json.dumps({"facts": facts, "engine": engine, "cv": cv}, ensure_ascii=False, indent=2)
    )
    print(f"wrote {REPORT.relative_to(ROOT)}")
    return 0


def _bench_endpoints() -> Path:
    path = OUT / "endpoints.yml"
    path.write_text(
        'action_endpoint:\n  url: "http://localhost:5155/webhook"\n  enable_selective_domain: true\n'
        "  headers:\n    Authorization: Bearer ${TONGBAN_ACTION_TOKEN}\n",
        encoding="utf-8",
    )
    return path


HELDOUT_NOTE = (
    "The held-out set was written apart from the training data before the first benchmark run "
    "and has not been changed since. After that first run, the kinds of message that failed "
    "(bare follow-ups such as 关于社保卡补办, dialect greetings and denials, which-office "
    "questions) got new training examples, written fresh and none taken from the held-out set. "
    "The held-out figures are therefore somewhat kinder than on truly unseen text; "
    "cross-validation below is the check that does not share this bias."
)


def _misses(ours: nlu.Scores, speed: dict, facts: dict) -> list[str]:
    """For each missed target: by how much, why, and what would close it."""
    out = []
    if ours.intent_accuracy < TARGETS["intent"]:
        pairs = Counter((g, p) for _, g, p in ours.intent_mistakes).most_common(4)
        out.append(
            f"- **Intent accuracy** {ours.intent_accuracy:.1%}: {len(ours.intent_mistakes)} of "
            f"{ours.n} held-out messages (listed below). Most frequent confusions: "
            + ", ".join(f"{g} → {p} ({n})" for (g, p), n in pairs)
            + ". To close: more training examples of those kinds of message, or a second, "
            "character-level classifier for one-to-three-word messages."
        )
    low = {e: f for e, f in ours.entity_f1.items() if f < TARGETS["entity"]}
    if low:
        out.append(
            "- **Entity F1** below 0.95 for "
            + ", ".join(f"{e} ({f:.3f})" for e, f in sorted(low.items()))
            + f": {len(ours.entity_mistakes)} held-out messages have an entity wrong (listed "
            "below). Typical causes: a place whose role the text does not say (the dialogue "
            "then asks), and a bare word such as 驾照 that fits several items (the dialogue "
            "offers them as choices). To close: more examples with roles, and aliases for "
            "the phrasings listed."
        )
    if ours.item_resolution < TARGETS["item"]:
        out.append(
            f"- **Item resolution** {ours.item_resolution:.1%}: see the list below; "
            "missing aliases in `knowledge/items` are the usual cause."
        )
    if speed:
        (ours_runs, _, _), (tpl_runs, _, _) = speed.values()
        if ours_runs[0].pct(50) > tpl_runs[0].pct(50):
            out.append(
                f"- **Sequential p50** {ours_runs[0].pct(50):.0f} ms against the template's "
                f"{tpl_runs[0].pct(50):.0f} ms: every Tongban answer is a call to the action "
                "server, which receives the whole conversation, while the template's replies "
                "are canned responses. To close: shorter trackers sent to the action server "
                "(Rasa sends every event) or answering inside the Rasa process."
            )
        if ours_runs[2].errors:
            out.append(
                f"- **Errors at 50 concurrent**: {ours_runs[2].errors}; see "
                "`bench/out/tongban-rasa.log`."
            )
    if facts["train_s"] > TARGETS["train_s"]:
        out.append(
            f"- **Training** took {facts['train_s'] / 60:.1f} min: fewer DIET epochs would "
            "close it at some cost in accuracy."
        )
    if not out:
        return []
    return ["", "### Where a target is missed", "", *out]


def _mistake_tables(ours: nlu.Scores) -> list[str]:
    """The held-out messages Tongban got wrong, so the next round of work can aim at them."""
    out = []
    tables = [
        ("intent", "expected intent", "predicted", ours.intent_mistakes),
        ("entities", "missed", "extra or wrong", ours.entity_mistakes),
        ("final answer's item", "expected item", "answered about", ours.item_mistakes),
    ]
    for what, left, right, rows in tables:
        if not rows:
            continue
        out += [
            "<details>",
            f"<summary>Held-out messages with the wrong {what} ({len(rows)})</summary>",
            "",
            f"| message | {left} | {right} |",
            "|---|---|---|",
        ]
        out += [f"| {text} | {a} | {b} |" for text, a, b in rows]
        out += ["", "</details>", ""]
    return out


def _mark(value: float, target: float, higher: bool = True) -> str:
    return "✅" if (value >= target if higher else value <= target) else "❌"


def _report(facts, scores, cv, speed, template_train, engine) -> str:
    ours = scores[0]
    entity_min = min(ours.entity_f1.values()) if ours.entity_f1 else 0.0
    lines = [
        "# 通办助手 benchmark report",
        "",
        f"Generated by `make bench` on {facts['date']} ({facts['machine']}, 2 cores). Re-run any time.",
        "",
        "## Targets",
        "",
        "| what | target | measured | |",
        "|---|---|---|---|",
        f"| intent accuracy, held-out | ≥ 97% | {ours.intent_accuracy:.1%} | {_mark(ours.intent_accuracy, TARGETS['intent'])} |",
        f"| entity F1 (lowest entity) | ≥ 0.95 | {entity_min:.3f} | {_mark(entity_min, TARGETS['entity'])} |",
        f"| item resolution | ≥ 95% | {ours.item_resolution:.1%} | {_mark(ours.item_resolution, TARGETS['item'])} |",
    ]
    if speed:
        (ours_runs, _, _), (tpl_runs, _, _) = speed.values()
        errors50 = ours_runs[2].errors
        lines.append(
            f"| sequential p50 latency | ≤ template ({tpl_runs[0].pct(50):.0f} ms) | {ours_runs[0].pct(50):.0f} ms | {_mark(ours_runs[0].pct(50), tpl_runs[0].pct(50), False)} |"
        )
        lines.append(f"| errors at 50 concurrent | 0 | {errors50} | {_mark(errors50, 0, False)} |")
    lines.append(
        f"| training time | ≤ 5 min | {facts['train_s'] / 60:.1f} min | {_mark(facts['train_s'], TARGETS['train_s'], False)} |"
    )
    lines += real.target_rows(facts.get("real", {}))
    for name, f in facts.get("lengths", {}).items():
        for key in ("median", "p95"):
            limit = replies.TARGETS[key]
            lines.append(
                f"| first answer {key}, {name} | ≤ {limit} chars | {f[key]:.0f} | {_mark(f[key], limit, False)} |"
            )
    lines += _misses(ours, speed, facts)
    lines += ["", "## Language understanding (held-out set, `bench/data/heldout.yml`)", ""]
    lines += [HELDOUT_NOTE, ""]
    lines += [
        "| pipeline | intent acc. | macro-F1 | "
        + " | ".join(f"F1 {e}" for e in ours.entity_f1)
        + " | item resolution | train s | notes |"
    ]
    lines += ["|---|---|---|" + "---|" * len(ours.entity_f1) + "---|---|---|"]
    for s in scores:
        cells = " | ".join(f"{s.entity_f1.get(e, 0.0):.3f}" for e in ours.entity_f1)
        lines.append(
            f"| {s.name} | {s.intent_accuracy:.1%} | {s.intent_macro_f1:.3f} | {cells} | {s.item_resolution:.1%} | {s.train_seconds:.0f} | {s.note} |"
        )
    lines += [
        "",
        "Item resolution runs the full answer path (NLU entities, then `tongban`'s own matching of the text) and checks the item of the final answer. For the baselines it uses their NLU output with the same `tongban` engine.",
        "",
        "![confusion matrix](confusion.png)",
        "",
    ]
    lines += _mistake_tables(ours)
    if cv:
        when = f" (measured {cv['date']})" if cv.get("date", facts["date"]) != facts["date"] else ""
        lines += [f"## 5-fold cross-validation on the training data{when}", "", f"Intent accuracy {cv['intent_accuracy']:.1%}, macro-F1 {cv['intent_macro_f1']:.3f}; entity F1: "
                  + ", ".join(f"{k} {v:.3f}" for k, v in sorted(cv["entity_f1"].items())) + f" ({cv['seconds'] / 60:.1f} min).", ""]  # fmt: skip
    if speed:
        lines += [
            "## Speed over REST (same load for both assistants)",
            "",
            "| assistant | load | p50 ms | p95 ms | p99 ms | msg/s | errors | no reply |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for name, (runs, _, _) in speed.items():
            for r in runs:
                label = "sequential" if r.concurrency == 1 else f"{r.concurrency} concurrent"
                lines.append(
                    f"| {name} | {label} | {r.pct(50):.0f} | {r.pct(95):.0f} | {r.pct(99):.0f} | {r.throughput:.1f} | {r.errors} | {r.silent} |"
                )
        lines += [
            "",
            "Errors are failed requests and malformed answers. *No reply* counts well-formed empty "
            "answers: the template says nothing to “yes” or “no” outside its stories.",
            "",
            "| assistant | cold start s | RSS Rasa MB | RSS actions MB | training s | model MB |",
            "|---|---|---|---|---|---|",
        ]
        for name, (_, rss, cold) in speed.items():
            train = facts["train_s"] if name.startswith("通办") else template_train
            size = (
                facts["model_mb"]
                if name.startswith("通办")
                else (OUT / "template/models/template.tar.gz").stat().st_size / 2**20
            )
            lines.append(
                f"| {name} | {cold:.1f} | {rss.get('rasa', 0):.0f} | {rss.get('actions', 0):.0f} | {train:.0f} | {size:.1f} |"
            )
        lines += ["", "![latency](latency.png)", ""]
    if facts.get("lengths"):
        lines += replies.section(facts["lengths"])
    if facts.get("real"):
        lines += real.section(facts["real"], facts.get("real_engine"), cv)
    if facts.get("console_search"):
        lines += console_search.section(facts["console_search"])
    lines += [
        "## The knowledge engine alone",
        "",
        f"Knowledge-base load {engine['kb_load_s'] * 1000:.0f} ms (target < 1 s); answer latency p50 {engine['answer_p50_ms']:.2f} ms, p95 {engine['answer_p95_ms']:.2f} ms, p99 {engine['answer_p99_ms']:.2f} ms (target < 5 ms).",
        "",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
