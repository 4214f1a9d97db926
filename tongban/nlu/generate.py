"""Generate the jieba user dictionary and the NLU synonyms/lookup tables from the knowledge base.

Run by `make generate` in the project folder (paths are relative to it, the knowledge base is
the settings' TONGBAN_KNOWLEDGE); the outputs are committed and a test fails when they drift.
"""

from __future__ import annotations

import sys
from pathlib import Path

from tongban.kb import KnowledgeBase, load_knowledge
from tongban.regions import short_name
from tongban.settings import settings

USERDICT = Path("data/jieba/userdict.txt")
NLU_FILE = Path("data/nlu/generated_knowledge.yml")
HEADER = "GENERATED from knowledge/ by `make generate` (tongban.nlu.generate). Do not edit by hand."
ITEM_FREQ, PLACE_FREQ = 50000, 30000  # high enough that jieba keeps each term whole


def place_names(kb: KnowledgeBase) -> list[str]:
    names: set[str] = set()
    for province in kb.regions.provinces.values():
        names.update(n for n in (province.name, province.short, *province.aliases) if len(n) >= 2)
    for city in kb.regions.cities.values():
        names.add(city.name)
        if not city.county_level and len(short_name(city.name)) >= 2:
            names.add(short_name(city.name))
    return sorted(names)


def item_terms(kb: KnowledgeBase) -> dict[str, list[str]]:
    return {
        item.id: sorted({t for t in (item.name, *item.aliases) if t.strip()})
        for item in sorted(kb.items.values(), key=lambda i: i.id)
    }


def userdict(kb: KnowledgeBase) -> str:
    lines = [
        f"{term} {ITEM_FREQ} n"
        for terms in item_terms(kb).values()
        for term in terms
        if " " not in term
    ]
    lines += [f"{name} {PLACE_FREQ} ns" for name in place_names(kb)]
    return "\n".join(sorted(set(lines))) + "\n"


def _yaml_list(values: list[str]) -> str:
    return "\n".join(f"      - {v}" for v in values)


def nlu_tables(kb: KnowledgeBase) -> str:
    parts = [f"# {HEADER}", 'version: "3.1"', "nlu:"]
    for item_id, terms in item_terms(kb).items():
        parts.append(f"  - synonym: {item_id}\n    examples: |\n{_yaml_list(terms)}")
    parts.append(f"  - lookup: place\n    examples: |\n{_yaml_list(place_names(kb))}")
    return "\n".join(parts) + "\n"


def outputs(kb: KnowledgeBase) -> dict[Path, str]:
    return {USERDICT: userdict(kb), NLU_FILE: nlu_tables(kb)}


def main(argv: list[str] | None = None) -> int:
    """Optional argument: another project folder (its knowledge/ is read, its data/ written)."""
    root = Path(argv[0]) if argv else Path(".")
    kb = load_knowledge(root / "knowledge" if argv else settings().knowledge_dir)
    for relative, content in outputs(kb).items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text(encoding="utf-8") != content:
            path.write_text(content, encoding="utf-8")
            print(f"wrote {relative}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
