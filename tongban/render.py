"""A `Reply` as plain text: for the CLI, REST's text, and text-only channels.

Short by default (lead and body, and a hint that details exist); `details=True` adds the
collapsible parts and the sources. Single newlines only: Rasa splits text at blank lines.
"""

from __future__ import annotations

from tongban.answers import DETAILS_HINT
from tongban.reply import Reply, Section


def _section(section: Section) -> str:
    return f"{section.title}：\n" + "\n".join(f"・{line}" for line in section.items)


def sources_text(reply: Reply) -> str:
    lines = []
    for index, source in enumerate(reply.sources, 1):
        link = f" {source.url}" if source.url else ""
        lines.append(f"[{index}] {source.citation()}{link}")
    return "来源：\n" + "\n".join(lines)


def plain_text(reply: Reply, details: bool = False) -> str:
    parts = [reply.lead]
    if reply.body:
        parts.append(_section(reply.body))
    if details:
        parts += [_section(s) for s in reply.sections]
        if reply.sources:
            parts.append(sources_text(reply))
    elif reply.has_details:
        parts.append(DETAILS_HINT)
    return "\n".join(parts)


def numbered_options(reply: Reply) -> list[str]:
    """Options and follow-ups as "回复 1 …" lines, for channels without buttons; a phone number
    is a line of its own (a reply cannot dial)."""
    choices = [o for o in (*reply.options, *reply.follow_ups) if not o.payload.startswith("tel:")]
    calls = [o for o in reply.options if o.payload.startswith("tel:")]
    lines = [f"回复 {i} {option.title}" for i, option in enumerate(choices, 1)]
    return lines + [f"电话：{o.payload.removeprefix('tel:')}" for o in calls]
