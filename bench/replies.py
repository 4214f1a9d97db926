"""How long Tongban's first answers are: the plain text a phone shows before "详情".

Measured over the held-out NLU set and the real citizens' questions (bench/data/real_questions.yml),
each as the first message of a fresh conversation.
"""

from __future__ import annotations

import statistics
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
REAL = ROOT / "bench/data/real_questions.yml"
BUCKETS = (100, 150, 200, 250, 300, 350, 500)
TARGETS = {"median": 200, "p95": 350}


def _texts() -> dict[str, list[str]]:
    from bench.nlu import _examples

    sets = {"held-out": [e.get("text") for e in _examples() if e.get("text")]}
    if REAL.exists():
        questions = yaml.safe_load(REAL.read_text(encoding="utf-8"))["questions"]
        sets["real questions"] = [q["text"] for q in questions]
    return sets


def lengths() -> dict[str, dict]:
    from tongban import Tongban
    from tongban.dialogue import Conversation, Memory, Turn
    from tongban.render import plain_text

    conversation = Conversation(Tongban.load(warm=True))
    out = {}
    for name, texts in _texts().items():
        sizes = sorted(
            len(plain_text(conversation.respond(Turn(text), Memory()).reply)) for text in texts
        )
        histogram, low = {}, 0
        for high in (*BUCKETS, None):
            label = f"{low}–{high}" if high else f"> {low}"
            histogram[label] = sum(low <= s < high if high else s >= low for s in sizes)
            low = high
        out[name] = {
            "n": len(sizes),
            "median": statistics.median(sizes),
            "p95": sizes[int(0.95 * (len(sizes) - 1))],
            "max": sizes[-1],
            "histogram": histogram,
        }
    return out


def section(figures: dict[str, dict]) -> list[str]:
    lines = [
        "## Length of the first answer",
        "",
        "Characters of the plain text shown before “详情” (lead, one short list, the hint), each "
        f"question as a fresh conversation's first message. Targets: median ≤ {TARGETS['median']}, "
        f"p95 ≤ {TARGETS['p95']}.",
        "",
        "| set | n | median | p95 | max | "
        + " | ".join(next(iter(figures.values()))["histogram"])
        + " |",
        "|---|---|---|---|---|" + "---|" * (len(BUCKETS) + 1),
    ]
    for name, f in figures.items():
        cells = " | ".join(str(v) for v in f["histogram"].values())
        lines.append(
            f"| {name} | {f['n']} | {f['median']:.0f} | {f['p95']} | {f['max']} | {cells} |"
        )
    return [*lines, ""]


if __name__ == "__main__":
    print("\n".join(section(lengths())))
