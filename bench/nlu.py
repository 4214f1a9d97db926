"""Language-understanding benchmarks: held-out accuracy, entity F1, item resolution, cross-validation.

Each pipeline is trained on data/nlu and scored on bench/data/heldout.yml, which it never saw.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv/bin"
HELDOUT = ROOT / "bench/data/heldout.yml"

COMMUNITY_CONFIG = """\
recipe: default.v1
language: zh
pipeline:
  - name: JiebaTokenizer
  - name: CountVectorsFeaturizer
    analyzer: char_wb
    min_ngram: 1
    max_ngram: 4
  - name: DIETClassifier
    epochs: {epochs}
  - name: EntitySynonymMapper
policies: []
"""
# What `rasa init` writes is an empty pipeline; Rasa then fills in its default one.
RASA_INIT_CONFIG = """\
recipe: default.v1
language: en
pipeline:
policies:
"""


@dataclass
class Scores:
    name: str
    intent_accuracy: float = 0.0
    intent_macro_f1: float = 0.0
    entity_f1: dict[str, float] = field(default_factory=dict)
    item_resolution: float = 0.0
    train_seconds: float = 0.0
    n: int = 0
    confusion: tuple[list[str], list[list[int]]] | None = None
    note: str = ""
    # (text, expected, got) for each held-out message whose intent or entities came out wrong
    intent_mistakes: list[tuple[str, str, str]] = field(default_factory=list)
    entity_mistakes: list[tuple[str, str, str]] = field(default_factory=list)
    item_mistakes: list[tuple[str, str, str]] = field(default_factory=list)


def _run(cmd: list[str], cwd: Path = ROOT) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def train_nlu(config: Path, out: Path, name: str) -> tuple[Path, float]:
    out.mkdir(parents=True, exist_ok=True)
    seconds = _run([str(BIN / "rasa"), "train", "nlu", "-c", str(config), "--nlu", "data/nlu",
                    "--out", str(out), "--fixed-model-name", name])  # fmt: skip
    return out / f"{name}.tar.gz", seconds


def _examples():
    from rasa.shared.nlu.training_data.loading import load_data

    return load_data(str(HELDOUT)).training_examples


def _entity_key(e: dict) -> tuple:
    return (e["entity"], e.get("role"), str(e.get("value")))


async def _parse_all(model: Path, texts: list[str]) -> list[dict]:
    from rasa.core.agent import Agent

    agent = Agent.load(str(model))
    return [await agent.parse_message(t) for t in texts]


def evaluate(name: str, model: Path, train_seconds: float, note: str = "") -> Scores:
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

    from tongban import Tongban
    from tongban.dialogue import Conversation, Memory, Turn

    examples = _examples()
    texts = [ex.get("text") for ex in examples]
    parsed = asyncio.run(_parse_all(model, texts))
    gold = [ex.get("intent") for ex in examples]
    pred = [p["intent"]["name"] if p.get("intent") else None for p in parsed]
    pred = [p or "none" for p in pred]
    labels = sorted(set(gold))

    intent_mistakes = [(t, g, p) for t, g, p in zip(texts, gold, pred, strict=True) if g != p]
    entity_mistakes = []
    counts: dict[str, Counter] = defaultdict(Counter)
    for ex, p in zip(examples, parsed, strict=True):
        want = Counter(_entity_key(e) for e in ex.get("entities") or [])
        # Two extractors may report the same entity (regex and DIET for case numbers): count once.
        got = Counter({_entity_key(e) for e in p.get("entities") or []})
        if want != got:
            entity_mistakes.append((ex.get("text"), _keys_text(want - got), _keys_text(got - want)))
        for key in want | got:
            tp = min(want[key], got[key])
            counts[key[0]]["tp"] += tp
            counts[key[0]]["fp"] += got[key] - tp
            counts[key[0]]["fn"] += want[key] - tp
    entity_f1 = {}
    for entity, c in sorted(counts.items()):
        if c["tp"] + c["fn"] == 0:
            continue
        precision = c["tp"] / max(c["tp"] + c["fp"], 1)
        recall = c["tp"] / max(c["tp"] + c["fn"], 1)
        entity_f1[entity] = 2 * precision * recall / max(precision + recall, 1e-9)

    # Item resolution: does the final answer concern the right item (whatever the NLU said)?
    tongban = Tongban.load(warm=True)
    conversation = Conversation(tongban)
    right = total = 0
    item_mistakes = []
    for ex, p in zip(examples, parsed, strict=True):
        wanted = [e.get("value") for e in ex.get("entities") or [] if e["entity"] == "item"]
        if not wanted:
            continue
        total += 1
        turn = Turn(
            ex.get("text"),
            p["intent"]["name"] if p.get("intent") else None,
            tuple(p.get("entities") or ()),
        )
        answered = conversation.respond(turn, Memory()).reply.meta.item
        right += answered == wanted[0]
        if answered != wanted[0]:
            item_mistakes.append((ex.get("text"), wanted[0], answered or "（没有定位到事项）"))

    return Scores(
        name=name,
        intent_accuracy=accuracy_score(gold, pred),
        intent_macro_f1=f1_score(gold, pred, labels=labels, average="macro", zero_division=0),
        entity_f1=entity_f1,
        item_resolution=right / max(total, 1),
        train_seconds=train_seconds,
        n=len(examples),
        confusion=(labels, confusion_matrix(gold, pred, labels=labels).tolist()),
        note=note,
        intent_mistakes=intent_mistakes,
        entity_mistakes=entity_mistakes,
        item_mistakes=item_mistakes,
    )


def _keys_text(keys: Counter) -> str:
    return (
        "、".join(
            f"{entity}{'.' + role if role else ''}={value}"
            for entity, role, value in sorted(keys, key=str)
        )
        or "—"
    )


def cross_validation(out: Path, folds: int = 5) -> dict:
    """Rasa's own k-fold cross-validation of our pipeline on the training data."""
    if out.exists():
        shutil.rmtree(out)
    seconds = _run([str(BIN / "rasa"), "test", "nlu", "--cross-validation", "--folds", str(folds),
                    "-c", "config.yml", "--nlu", "data/nlu", "--out", str(out)])  # fmt: skip
    report = json.loads((out / "intent_report.json").read_text(encoding="utf-8"))
    entities = {}
    for path in set(out.glob("*_report.json")) - {out / "intent_report.json"}:
        data = json.loads(path.read_text(encoding="utf-8"))
        for name, row in data.items():
            if (
                isinstance(row, dict)
                and "f1-score" in row
                and name not in ("micro avg", "macro avg", "weighted avg", "no_entity")
            ):
                entities[name] = max(entities.get(name, 0.0), row["f1-score"])
    return {
        "folds": folds,
        "seconds": seconds,
        "intent_accuracy": report.get("accuracy", 0.0),
        "intent_macro_f1": report.get("macro avg", {}).get("f1-score", 0.0),
        "entity_f1": entities,
    }


def baselines(work: Path, epochs: int) -> list[tuple[str, Path, float, str]]:
    """Train the two comparison pipelines on the same data; returns (name, model, seconds, note)."""
    work.mkdir(parents=True, exist_ok=True)
    out = []
    community = work / "community.yml"
    community.write_text(COMMUNITY_CONFIG.format(epochs=epochs), encoding="utf-8")
    model, seconds = train_nlu(community, work, "community")
    out.append(("社区常用中文管线 / community Chinese", model, seconds,
                f"JiebaTokenizer + CountVectors char_wb 1-4 + DIET (defaults, epochs capped at {epochs})"))  # fmt: skip
    init = work / "rasa_init.yml"
    init.write_text(RASA_INIT_CONFIG, encoding="utf-8")
    model, seconds = train_nlu(init, work, "rasa_init")
    out.append(
        (
            "rasa init 默认配置 / rasa init default",
            model,
            seconds,
            "empty pipeline: Rasa's default (WhitespaceTokenizer ...)",
        )
    )
    return out
