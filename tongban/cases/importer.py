"""`tongban cases import FILE`: read YAML or JSON, validate every record, upsert all or nothing."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tongban.cases.model import CaseRecord, CaseValidationError, record_from_mapping
from tongban.cases.store import CaseStore


def read_records(path: Path) -> list[CaseRecord]:
    """All records of a file, or CaseValidationError listing every bad record and field."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CaseValidationError([f"无法读取 {path}（{exc.__class__.__name__}）"]) from None
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        raise CaseValidationError([f"{path.name} 不是有效的 JSON（第 {exc.lineno} 行）"]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f"（第 {mark.line + 1} 行）" if mark else ""
        raise CaseValidationError([f"{path.name} 不是有效的 YAML{line}"]) from None
    raw = data.get("cases") if isinstance(data, dict) else None
    if not isinstance(raw, list) or not raw:
        raise CaseValidationError([f"{path.name} 顶层应为 cases: 列表，且至少有一条记录"])
    problems: list[str] = []
    records = [record_from_mapping(entry, i, problems) for i, entry in enumerate(raw)]
    seen: dict[str, int] = {}
    for index, record in enumerate(records):
        if record is None:
            continue
        if record.case_id in seen:
            problems.append(
                f"第 {index + 1} 条 · case_id：与第 {seen[record.case_id] + 1} 条重复（{record.case_id}）"
            )
        seen.setdefault(record.case_id, index)
    if problems:
        raise CaseValidationError(problems)
    return [r for r in records if r is not None]


def import_file(path: Path, store: CaseStore) -> tuple[int, int]:
    """Validate the whole file first, then upsert in one transaction: (added, updated)."""
    return store.upsert(read_records(path))
