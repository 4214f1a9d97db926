"""Generated artefacts match the knowledge base, and NLU annotations align with jieba tokens."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import yaml

from tongban.kb import load_knowledge
from tongban.nlu.alignment import load_userdict, misaligned
from tongban.nlu.generate import outputs

ROOT = Path(__file__).resolve().parent.parent


def test_generated_files_are_up_to_date():
    kb = load_knowledge(ROOT / "knowledge")
    for relative, expected in outputs(kb).items():
        actual = (ROOT / relative).read_text(encoding="utf-8")
        assert actual == expected, (
            f"{relative} is stale: run `make generate` (never edit it by hand)"
        )


def test_every_entity_annotation_aligns_with_tokens():
    load_userdict(ROOT)
    assert misaligned(ROOT / "data/nlu") == []


def test_test_stories_annotations_align_too(tmp_path):
    stories = yaml.safe_load((ROOT / "tests/test_stories.yml").read_text(encoding="utf-8"))
    lines = [
        step["user"].strip()
        for story in stories["stories"]
        for step in story["steps"]
        if "user" in step and "intent" in step
    ]
    (tmp_path / "nlu.yml").write_text(
        'version: "3.1"\nnlu:\n  - intent: any\n    examples: |\n'
        + "".join(f"      - {line}\n" for line in lines),
        encoding="utf-8",
    )
    load_userdict(ROOT)
    assert misaligned(tmp_path) == []


def test_at_least_30_examples_per_intent():
    counts: Counter[str] = Counter()
    for path in (ROOT / "data/nlu").glob("*.yml"):
        for block in yaml.safe_load(path.read_text(encoding="utf-8")).get("nlu", []):
            if "intent" in block:
                counts[block["intent"]] += sum(
                    1 for line in block["examples"].splitlines() if line.strip().startswith("- ")
                )
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    for intent in domain["intents"]:
        assert counts[intent] >= 30, (intent, counts[intent])
