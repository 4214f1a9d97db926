"""Field-by-field validation of raw YAML records, collecting errors that say how to fix them.

The loader turns validated records into the frozen dataclasses of `tongban.kb.model`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from typing import Any

from tongban.errors import KnowledgeError

ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
SOURCE_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")


class Record:
    """One YAML mapping under validation: typed getters that log errors instead of raising."""

    def __init__(self, data: Any, file: str, label: str, errors: list[KnowledgeError], path=""):
        self.file, self.label, self.errors, self.path = file, label, errors, path
        if not isinstance(data, dict):
            self._error(
                None,
                f"应为键值对（mapping），实际是 {_kind(data)}",
                "按 knowledge/README.md 的格式书写",
            )
            data = {}
        self.data = data

    def _key(self, key: str | None) -> str | None:
        if key is None:
            return self.path or None
        return f"{self.path}.{key}" if self.path else key

    def _error(self, key: str | None, problem: str, fix: str) -> None:
        self.errors.append(KnowledgeError(self.file, self.label, self._key(key), problem, fix))

    def allow_only(self, keys: Iterable[str]) -> None:
        allowed = set(keys)
        for key in self.data:
            if key not in allowed:
                self._error(
                    str(key),
                    "未知字段",
                    f"请检查拼写；允许的字段有：{'、'.join(sorted(allowed))}",
                )

    def text(self, key: str, required: bool = True) -> str:
        value = self.data.get(key)
        if value is None or value == "":
            if required:
                self._error(key, "缺少必填字段", f"请填写 {key}")
            return ""
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            self._error(key, f"应为文字，实际是 {_kind(value)}", "请写成一行文字")
            return ""
        return str(value).strip()

    def identifier(self, key: str = "id") -> str:
        value = self.text(key)
        if value and not ID_PATTERN.match(value):
            self._error(key, f"“{value}”不是合法的 id", "只用小写字母、数字和下划线，以字母开头")
        return value

    def texts(self, key: str, required: bool = True, allow_empty: bool = False) -> tuple[str, ...]:
        value = self.data.get(key)
        if value is None:
            if required:
                self._error(key, "缺少必填字段", f"请填写 {key}，格式为列表：[甲, 乙]")
            return ()
        if not isinstance(value, list):
            self._error(key, f"应为列表，实际是 {_kind(value)}", "写成 [甲, 乙] 或每行一个“- 甲”")
            return ()
        if not value and required and not allow_empty:
            self._error(key, "列表为空", f"请至少填写一项 {key}")
        out = []
        for index, entry in enumerate(value):
            if isinstance(entry, bool) or not isinstance(entry, (str, int, float)) or entry == "":
                self._error(
                    f"{key}[{index}]", f"应为文字，实际是 {_kind(entry)}", "每一项写成一行文字"
                )
                continue
            out.append(str(entry).strip())
        return tuple(out)

    def date(self, key: str, required: bool = True) -> dt.date | None:
        value = self.data.get(key)
        if value is None:
            if required:
                self._error(key, "缺少必填日期", "请写成 YYYY-MM-DD，例如 2021-06-01")
            return None
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        try:
            return dt.date.fromisoformat(str(value).strip())
        except ValueError:
            self._error(key, f"“{value}”不是有效日期", "请写成 YYYY-MM-DD，例如 2021-06-01")
            return None

    def source_date(self, key: str = "date") -> str:
        value = self.data.get(key)
        text = value.isoformat() if isinstance(value, dt.date) else str(value or "").strip()
        if not SOURCE_DATE.match(text):
            self._error(
                key, f"“{text}”不是有效日期", '写成 YYYY-MM-DD；只知道年月时写 "2020-12" 或 "2020"'
            )
        return text

    def integer(self, key: str, required: bool = True) -> int | None:
        value = self.data.get(key)
        if value is None:
            if required:
                self._error(key, "缺少必填数字", f"请填写 {key}")
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            self._error(key, f"“{value}”不是非负整数", "请写成整数，例如 140")
            return None
        return value

    def choice(self, key: str, options: tuple[str, ...], default: str | None = None) -> str:
        value = self.data.get(key, default)
        if value not in options:
            self._error(key, f"“{value}”不是允许的取值", f"只能是：{'、'.join(options)}")
            return default or options[0]
        return value

    def records(self, key: str, required: bool = True) -> list[Record]:
        value = self.data.get(key)
        if value is None:
            if required:
                self._error(key, "缺少必填字段", f"请填写 {key}（列表）")
            return []
        if not isinstance(value, list):
            self._error(key, f"应为列表，实际是 {_kind(value)}", "每一项以“- ”开头")
            return []
        return [
            Record(entry, self.file, self.label, self.errors, self._key(f"{key}[{i}]") or "")
            for i, entry in enumerate(value)
        ]


def _kind(value: Any) -> str:
    return {
        dict: "键值对",
        list: "列表",
        str: "文字",
        int: "数字",
        float: "数字",
        bool: "是/否",
        type(None): "空值",
    }.get(type(value), type(value).__name__)
