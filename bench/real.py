"""Real citizens' questions (bench/data/real_questions.yml): the right service and the asked fact,
or an honest "not covered". Scored by topic, for the development part and the part set aside.

Runs the knowledge engine's own understanding (`tongban.dialogue`) without the NLU model, each
question as a fresh conversation's first message.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
REAL = ROOT / "bench/data/real_questions.yml"
TARGETS = {"correct": 0.80, "wrong": 0.03, "not_covered": 0.90}
FACT_MATCH = 75
WORD_SHARE = 0.9
_JOINING = frozenset("的了和与及或并且也、")
_FOLD = re.compile(r"[\s\W_]+")


@dataclass(frozen=True)
class Outcome:
    id: str
    topic: str
    split: str
    covered: bool
    verdict: str  # correct | partial | wrong_service | menu | not_covered | unknown
    item: str | None


def _fold(text: str) -> str:
    return _FOLD.sub("", text)


def judge(question: dict, reply) -> str:
    from tongban.render import plain_text

    item, expected = reply.meta.item, question.get("expected_item")
    if reply.options and any(o.payload.startswith("item:") for o in reply.options):
        return "menu"
    if reply.meta.topic is not None or (item is None and not reply.options):
        return "not_covered" if reply.meta.topic is not None else "unknown"
    if item != expected:
        return "wrong_service"
    shown = _fold(plain_text(reply, details=True))
    facts = question.get("key_facts") or []
    return "correct" if all(has_fact(shown, f) for f in facts) else "partial"


def has_fact(shown: str, fact: str) -> bool:
    """The key facts are short paraphrases: a fact counts as given when some passage of the
    answer matches it closely (rapidfuzz partial ratio, FACT_MATCH of 100), or when the answer
    holds nearly all of its words (WORD_SHARE of their characters, jieba's words: the same
    fact told in another order or with other joining words)."""
    from rapidfuzz import fuzz

    folded = _fold(fact)
    if fuzz.partial_ratio(folded, shown) >= FACT_MATCH:
        return True
    words = [w for w in _words(folded) if w not in _JOINING]
    total = sum(len(w) for w in words)
    return total > 0 and sum(len(w) for w in words if w in shown) / total >= WORD_SHARE


def _words(text: str) -> list[str]:
    import jieba

    return jieba.lcut(text)


# Intents the assistant answers from the knowledge base (data/rules/rules.yml); any other intent
# (greet, out_of_scope, case_status ...) gets its own fixed reply, which names no service.
ANSWERED_INTENTS = frozenset(
    ["ask_can", "ask_documents", "ask_process", "ask_regions", "ask_time_fees",
     "ask_department", "ask_overview", "ask_details", "inform"]
)  # fmt: skip
FALLBACK_INTENT = "nlu_fallback"


def run(questions: list[dict] | None = None, model: Path | None = None) -> list[Outcome]:
    """Each question as a fresh conversation's first message. With a model, the trained NLU
    parses it first and its intent and entities reach the dialogue as in production; without,
    the knowledge engine's own understanding alone."""
    from tongban import Tongban
    from tongban.dialogue import Conversation, Turn

    questions = questions or yaml.safe_load(REAL.read_text(encoding="utf-8"))["questions"]
    conversation = Conversation(Tongban.load(warm=True))
    parsed = _parse(model, [q["text"] for q in questions]) if model else [None] * len(questions)
    out = []
    for q, nlu in zip(questions, parsed, strict=True):
        if nlu is None:
            verdict, item = _judge_turn(conversation, q, Turn(q["text"]))
        else:
            intent = (nlu.get("intent") or {}).get("name")
            turn = Turn(q["text"], intent, tuple(nlu.get("entities") or ()))
            if intent in ANSWERED_INTENTS or intent == FALLBACK_INTENT:
                verdict, item = _judge_turn(conversation, q, turn, intent == FALLBACK_INTENT)
            else:
                verdict, item = "unknown", None
        out.append(Outcome(q["id"], q["topic"], q["split"], q["covered"], verdict, item))
    return out


def _judge_turn(
    conversation, question: dict, turn, fallback: bool = False
) -> tuple[str, str | None]:
    from tongban.dialogue import Memory

    respond = conversation.fallback if fallback else conversation.respond
    reply = respond(turn, Memory()).reply
    return judge(question, reply), reply.meta.item


def _parse(model: Path, texts: list[str]) -> list[dict]:
    import asyncio

    from rasa.core.agent import Agent

    async def parse_all() -> list[dict]:
        agent = Agent.load(str(model))
        return [await agent.parse_message(t) for t in texts]

    return asyncio.run(parse_all())


def summary(outcomes: list[Outcome]) -> dict[str, dict]:
    """Per split: rates on covered questions (correct, wrong service, menus) and on uncovered
    ones (honest not-covered, wrong service)."""
    result = {}
    for split in ("dev", "aside"):
        part = [o for o in outcomes if o.split == split]
        covered = [o for o in part if o.covered]
        uncovered = [o for o in part if not o.covered]
        by_topic = defaultdict(Counter)
        for o in part:
            by_topic[o.topic][o.verdict] += 1
            by_topic[o.topic]["n"] += 1
        result[split] = {
            "n": len(part),
            "covered": len(covered),
            "uncovered": len(uncovered),
            "correct": _rate(covered, "correct"),
            "partial": _rate(covered, "partial"),
            "menu": _rate(part, "menu"),
            "wrong": _rate(part, "wrong_service"),
            "not_covered": _rate(uncovered, "not_covered"),
            "topics": {t: dict(c) for t, c in sorted(by_topic.items())},
        }
    return result


def _rate(outcomes: list[Outcome], verdict: str) -> float:
    return sum(o.verdict == verdict for o in outcomes) / len(outcomes) if outcomes else 0.0


def section(
    figures: dict[str, dict],
    engine: dict[str, dict] | None = None,
    cv: dict | None = None,
    with_nlu: bool = True,
) -> list[str]:
    """The report's section: with the trained NLU in the loop (as in production), the knowledge
    engine alone, and the cross-validation figure next to them."""
    lines = [
        "## Real citizens' questions (`bench/data/real_questions.yml`)",
        "",
        "Fully correct: the right service and every key fact of the question in the answer "
        f"(with its details; a fact counts when a passage matches it at ≥ {FACT_MATCH}% by "
        f"rapidfuzz's partial ratio, or when the answer holds {WORD_SHARE:.0%} of the fact's "
        "words by length, since the key facts are short paraphrases). Wrong service: an answer "
        "about another service. Honest not covered: a service the knowledge base lacks is named "
        "and referred, not answered with another one. Each question is a new conversation's first "
        "message. The *aside* part was never used for tuning.",
        "",
        "With the trained NLU first (intent and entities reach the dialogue as in production; an "
        "intent the assistant answers with a fixed reply, such as out_of_scope, counts as "
        "unknown):"
        if with_nlu
        else "The knowledge engine's own understanding alone (no NLU):",
        "",
        *_table(figures),
    ]
    if engine:
        lines += [
            "",
            "The knowledge engine's own understanding alone (no NLU):",
            "",
            *_table(engine),
        ]
    if cv:
        lines += [
            "",
            f"Next to it: 5-fold cross-validation intent accuracy {cv['intent_accuracy']:.1%} "
            f"(macro-F1 {cv['intent_macro_f1']:.3f}; measured {cv.get('date', '?')}).",
        ]
    lines += ["", "By topic (development part, as in the first table): counts of each outcome.", ""]
    kinds = ("correct", "partial", "wrong_service", "menu", "not_covered", "unknown")
    lines += ["| topic | n | " + " | ".join(kinds) + " |", "|---|---|" + "---|" * len(kinds)]
    for topic, counts in figures["dev"]["topics"].items():
        cells = " | ".join(str(counts.get(k, 0)) for k in kinds)
        lines.append(f"| {topic} | {counts['n']} | {cells} |")
    return [*lines, ""]


def _table(figures: dict[str, dict]) -> list[str]:
    lines = [
        "| part | n | fully correct (covered) | partly (right service) | wrong service | menus | "
        "honest not covered (uncovered) |",
        "|---|---|---|---|---|---|---|",
    ]
    for split, f in figures.items():
        lines.append(
            f"| {split} | {f['n']} ({f['covered']} covered) | {f['correct']:.0%} | "
            f"{f['partial']:.0%} | {f['wrong']:.0%} | {f['menu']:.0%} | {f['not_covered']:.0%} |"
        )
    return lines


def refresh_report(figures: dict, engine: dict, report: Path = ROOT / "bench/REPORT.md") -> None:
    """Replace the real-question section and target rows of an existing report with new figures
    (the rest of the report keeps its own date), saying when the section was measured."""
    import datetime as dt

    when = dt.datetime.now().isoformat(timespec="minutes")
    cv = _cross_validation(when)
    new_section = section(figures, engine, cv)
    new_section.insert(1, f"\n*Measured {when} by `python -m bench.real --nlu --report`.*")
    lines = report.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("## Real citizens"))
    end = next(i for i in range(start + 1, len(lines)) if lines[i].startswith("## "))
    lines[start:end] = new_section
    rows = [i for i, line in enumerate(lines) if line.startswith("| real questions (")]
    lines[rows[0] : rows[-1] + 1] = target_rows(figures)
    # The same model's held-out intent accuracy and item resolution (a few minutes).
    from bench import nlu

    held_out = nlu.evaluate("通办助手 / Tongban", ROOT / "models/tongban.tar.gz", 0.0)
    for i, line in enumerate(lines):
        if line.startswith("| intent accuracy, held-out |"):
            lines[i] = _row("intent accuracy, held-out", 0.97, held_out.intent_accuracy, when)
        elif line.startswith("| item resolution |"):
            lines[i] = _row("item resolution", 0.95, held_out.item_resolution, when)
    report.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _cross_validation(when: str) -> dict | None:
    """The full bench's last cross-validation, or (with --cv) a new run of it (about 20 min)."""
    import json
    import sys

    from bench import nlu

    out = ROOT / "bench/out"
    if "--cv" in sys.argv:
        cv = {**nlu.cross_validation(out / "cv"), "date": when}
        out.mkdir(parents=True, exist_ok=True)
        (out / "cv.json").write_text(json.dumps(cv, ensure_ascii=False, indent=2))
        return cv
    for path in (out / "cv.json", out / "results.json"):
        if path.exists():
            data = json.loads(path.read_text(encoding="utf-8"))
            return data.get("cv", data)
    return None


def _row(label: str, goal: float, value: float, when: str) -> str:
    mark = "✅" if value >= goal else "❌"
    return f"| {label} (re-measured {when}) | ≥ {goal:.0%} | {value:.1%} | {mark} |"


def target_rows(figures: dict) -> list[str]:
    rows = []
    for split, f in figures.items():
        for key, label, higher in (
            ("correct", "fully correct", True),
            ("wrong", "wrong service", False),
            ("not_covered", "honest not covered", True),
        ):
            goal, sign = TARGETS[key], "≥" if higher else "≤"
            met = f[key] >= goal if higher else f[key] <= goal
            rows.append(
                f"| real questions ({split}, with the NLU): {label} | {sign} {goal:.0%} | "
                f"{f[key]:.0%} | {'✅' if met else '❌'} |"
            )
    return rows


if __name__ == "__main__":
    import sys

    model = ROOT / "models/tongban.tar.gz" if "--nlu" in sys.argv else None
    outcomes = run(model=model)
    if "--report" in sys.argv and model is not None:
        refresh_report(summary(outcomes), summary(run()))
    print("\n".join(section(summary(outcomes), with_nlu=model is not None)))
    if "-v" in sys.argv:
        questions = {q["id"]: q for q in yaml.safe_load(REAL.read_text())["questions"]}
        for o in outcomes:
            if o.split == "dev" and o.verdict not in ("correct", "not_covered"):
                q = questions[o.id]
                print(o.id, o.verdict, q["expected_item"], "->", o.item, "|", q["text"][:60])
