"""The console's navigation: the one list of its sections, which the page shell (web/console/shell.js)
draws for the signed-in staff member.

A new console module adds its entry here and serves its page under /console/, guarded with
`tongban.console.auth.guard`. The conversations section (会话, human handoff, issue 15 §2) is
planned as the second entry: NavEntry("conversations", "会话", "/console/conversations/").
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NavEntry:
    key: str
    title: str
    href: str
    role: str | None = None  # None: every staff member; "admin": administrators only


NAV: tuple[NavEntry, ...] = (
    NavEntry("search", "事项查询", "/console/#search"),
    NavEntry("conversations", "会话", "/console/conversations/"),
    NavEntry("cases", "办件查询", "/console/#cases"),
    NavEntry("ratings", "好差评", "/console/#ratings"),
    NavEntry("audit", "审计日志", "/console/#audit", role="admin"),
)


def nav_for(role: str, entries: tuple[NavEntry, ...] = NAV) -> list[dict[str, str]]:
    return [
        {"key": e.key, "title": e.title, "href": e.href}
        for e in entries
        if e.role is None or e.role == role
    ]
