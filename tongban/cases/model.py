"""Case records (办件), their validation on import, and the normalising of what people type.

Shared by every case backend, the importer and the dialogue.
"""

from __future__ import annotations

import datetime as dt
import hmac
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tongban.security.redact import mask_code

STATUSES = ("已提交", "已受理", "审核中", "待补正", "不予受理", "已办结", "已撤回")
CASE_ID = re.compile(r"^[A-Z0-9]{8,32}$")
LAST4 = re.compile(r"^[0-9]{3}[0-9X]$")
_SEPARATORS = re.compile(r"[\s\-_—－·.。,，:：/]+")
_CASE_IN_TEXT = re.compile(r"(?<![A-Za-z0-9])([A-Za-z]{0,8}[0-9][A-Za-z0-9]{7,31})(?![A-Za-z0-9])")
_LAST4_CUE = re.compile(
    r"(?:后四位|后4位|末四位|末4位|尾号|后几位|最后四位|最后4位)\s*(?:是|为|:|：)?\s*([0-9]{3}[0-9xX])"
)


@dataclass(frozen=True)
class HistoryEntry:
    at: str
    status: str
    note: str = ""


@dataclass(frozen=True)
class CaseRecord:
    case_id: str
    item: str
    applicant: str
    id_last4: str
    phone_last4: str
    region: str
    status: str
    accepted_at: str
    updated_at: str
    status_note: str = ""
    due_at: str = ""
    history: tuple[HistoryEntry, ...] = field(default=())

    def verifies(self, last4: str) -> bool:
        """True when `last4` matches the ID or the phone number (compared in constant time).

        Only for records that carry the values (the HTTP backend's); the SQLite store keeps
        keyed hashes and verifies in `SQLiteCaseStore.match`, its records carry empty values."""
        given = (last4 or "").encode()
        id_ok = hmac.compare_digest(self.id_last4.encode(), given)
        phone_ok = hmac.compare_digest(self.phone_last4.encode(), given)
        return bool(LAST4.fullmatch(last4 or "")) and (id_ok or phone_ok)


class CaseValidationError(Exception):
    """Problems in an import file, one line each: which record and which field."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(
            "；".join(problems[:3]) + (f"（共 {len(problems)} 处）" if len(problems) > 3 else "")
        )


def fold(text: str) -> str:
    """Full-width to half-width, upper case, separators removed: how IDs are compared."""
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", text or "")).upper()


def normalise_case_id(text: str | None) -> str | None:
    """'sc 2025-1103 00342' and 'ＳＣ２０２５１１０３００３４２' -> 'SC2025110300342'; None if invalid."""
    folded = fold(text or "")
    return folded if CASE_ID.match(folded) else None


def normalise_last4(text: str | None) -> str | None:
    folded = fold(text or "")
    return folded if LAST4.match(folded) else None


def find_case_id(text: str) -> str | None:
    """A case number inside a sentence: letters and digits, 8-32 long, with at least one digit."""
    normal = unicodedata.normalize("NFKC", text or "")
    for match in _CASE_IN_TEXT.finditer(normal):
        candidate = normalise_case_id(match.group(1))
        if candidate is None or _looks_like_phone_or_id(candidate):
            continue
        return candidate
    return None


def _looks_like_phone_or_id(candidate: str) -> bool:
    return (len(candidate) == 11 and candidate.isdigit()) or (
        len(candidate) == 18 and candidate[:17].isdigit()
    )


def find_last4(text: str) -> str | None:
    """'身份证后四位0032', '手机尾号 7788'."""
    match = _LAST4_CUE.search(unicodedata.normalize("NFKC", text or ""))
    return match.group(1).upper() if match else None


def mask_name(name: str) -> str:
    """李小华 -> 李*华, 王强 -> 王*, 欧阳娜娜 -> 欧**娜."""
    name = (name or "").strip()
    if len(name) <= 1:
        return "*" if name else ""
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def mask_case_id(case_id: str | None) -> str:
    """For logs: SC2025110300342 -> SC2*******0342."""
    return mask_code(case_id) if case_id else ""


def _text(value: Any) -> str:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return "" if value is None else str(value).strip()


def _timestamp(value: Any) -> dt.datetime | dt.date | None:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return value
    text = _text(value)
    try:
        return (
            dt.datetime.fromisoformat(text)
            if "T" in text or " " in text
            else dt.date.fromisoformat(text)
        )
    except ValueError:
        return None


def record_from_mapping(raw: Any, index: int, problems: list[str]) -> CaseRecord | None:
    """Validate one import record; append '第 N 条 · 字段：问题' lines to `problems`."""
    where = f"第 {index + 1} 条"
    if not isinstance(raw, Mapping):
        problems.append(f"{where}：应为键值对")
        return None
    before = len(problems)

    def need(key: str) -> str:
        value = _text(raw.get(key))
        if not value:
            problems.append(f"{where} · {key}：缺少必填字段")
        return value

    known = {
        "case_id", "item", "applicant", "id_last4", "phone_last4", "region", "status", "status_note",
        "accepted_at", "due_at", "updated_at", "history",
    }  # fmt: skip
    for key in raw:
        if key not in known:
            problems.append(f"{where} · {key}：未知字段")
    case_id = normalise_case_id(need("case_id"))
    if _text(raw.get("case_id")) and case_id is None:
        problems.append(f"{where} · case_id：应为 8–32 位字母和数字")
    item, applicant, region = need("item"), need("applicant"), need("region")
    last4 = {}
    for key in ("id_last4", "phone_last4"):
        value = need(key)
        last4[key] = normalise_last4(value)
        if value and last4[key] is None:
            problems.append(f"{where} · {key}：应为 4 位数字（身份证最后一位可为 X）")
    status = need("status")
    if status and status not in STATUSES:
        problems.append(f"{where} · status：“{status}”不是允许的状态（{'、'.join(STATUSES)}）")
    stamps = {}
    for key, required in (("accepted_at", True), ("updated_at", True), ("due_at", False)):
        value = need(key) if required else _text(raw.get(key))
        if value and _timestamp(raw.get(key)) is None:
            problems.append(
                f"{where} · {key}：“{value}”不是有效的日期或时间（例如 2025-11-03T10:00:00+08:00）"
            )
        stamps[key] = value
    history = []
    raw_history = raw.get("history") or []
    if not isinstance(raw_history, list):
        problems.append(f"{where} · history：应为列表")
        raw_history = []
    for h_index, entry in enumerate(raw_history):
        if (
            not isinstance(entry, Mapping)
            or not _text(entry.get("at"))
            or not _text(entry.get("status"))
        ):
            problems.append(f"{where} · history[{h_index}]：每条记录需要 at 和 status")
            continue
        if _timestamp(entry.get("at")) is None:
            problems.append(f"{where} · history[{h_index}].at：不是有效的日期或时间")
        if _text(entry.get("status")) not in STATUSES:
            problems.append(f"{where} · history[{h_index}].status：不是允许的状态")
        history.append(
            HistoryEntry(
                _text(entry.get("at")), _text(entry.get("status")), _text(entry.get("note"))
            )
        )
    if len(problems) > before:
        return None
    return CaseRecord(
        case_id=case_id, item=item, applicant=applicant, id_last4=last4["id_last4"],
        phone_last4=last4["phone_last4"], region=region, status=status,
        accepted_at=stamps["accepted_at"], updated_at=stamps["updated_at"],
        status_note=_text(raw.get("status_note")), due_at=stamps["due_at"], history=tuple(history),
    )  # fmt: skip
