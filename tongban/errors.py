"""Errors that Tongban reports to people: each says what is wrong, where, and how to fix it.

No traceback is ever meant for a user; callers print `str(error)`.
"""

from __future__ import annotations


class TongbanError(Exception):
    """A problem a user or operator can fix, with a message fit to show them."""


class KnowledgeError(TongbanError):
    """A knowledge file breaks the schema; names the file, the record and the key."""

    def __init__(self, file: str, record: str | None, key: str | None, problem: str, fix: str):
        self.file, self.record, self.key = file, record, key
        self.problem, self.fix = problem, fix
        where = file
        if record:
            where += f" · {record}"
        if key:
            where += f" · 字段 {key}"
        super().__init__(f"{where}：{problem}。{fix}")


class BadArgument(TongbanError):
    """A command-line or API argument that cannot be used as given."""
