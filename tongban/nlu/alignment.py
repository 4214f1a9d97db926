"""Check that every annotated entity in the NLU data starts and ends on a jieba token boundary.

Misaligned annotations are silently dropped by Rasa, so a test runs this over data/nlu/.
"""

from __future__ import annotations

import sys
from pathlib import Path

import jieba

from tongban.nlu.generate import USERDICT


def load_userdict(root: Path = Path(".")) -> None:
    """The generated dictionary of the project folder `root` (default: the working directory)."""
    jieba.load_userdict(str(root / USERDICT))


def misaligned(nlu_dir: Path) -> list[str]:
    """Human-readable problems, one per misaligned entity; empty when all align."""
    from rasa.shared.nlu.training_data.loading import load_data

    from tongban.text import same_length_normal_form

    problems = []
    data = load_data(str(nlu_dir))
    for example in data.training_examples:
        text = example.get("text") or ""
        entities = example.get("entities") or []
        if not entities:
            continue
        normal = same_length_normal_form(text)
        starts = {s for w, s, _ in jieba.tokenize(normal) if w.strip()}
        ends = {e for w, _, e in jieba.tokenize(normal) if w.strip()}
        for entity in entities:
            if entity["start"] not in starts or entity["end"] not in ends:
                tokens = "/".join(w for w, _, _ in jieba.tokenize(normal) if w.strip())
                problems.append(
                    f"“{text}”: {entity['entity']}“{text[entity['start'] : entity['end']]}” 与分词不对齐：{tokens}"
                )
    return problems


def main() -> int:
    load_userdict()
    problems = misaligned(Path("data/nlu"))
    for problem in problems:
        print(problem)
    print(f"{len(problems)} misaligned entities")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
