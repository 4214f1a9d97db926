"""One conversational turn: what the NLU understood plus what we remember -> a reply and new memory.

Channel-free and Rasa-free, so the Rasa action, a WeChat adapter and tests share the same logic.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from tongban.answers import answer
from tongban.assistant import Tongban
from tongban.meaning import Clarification
from tongban.reply import Reply, SectionKind
from tongban.text import compact
from tongban.understanding import INTENT_KINDS, Hints, Memory, policy_date, understand

__all__ = ["INTENT_KINDS", "Conversation", "Memory", "Response", "Turn"]

DETAILS_INTENT = "ask_details"
# What a follow-up that changes only the place or date says instead of repeating the list.
_SAME_AS_BEFORE = {
    SectionKind.DOCUMENTS: "要带的材料与上面相同。",
    SectionKind.STEPS: "办理步骤与上面相同。",
    SectionKind.REGIONS: "地区名单与上面相同。",
}


@dataclass(frozen=True)
class Turn:
    text: str
    intent: str | None = None
    entities: tuple[Mapping[str, Any], ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Response:
    """A turn's outcome: the reply, what to remember, and whether the details were asked for."""

    reply: Reply
    memory: Memory
    expanded: bool = False


class Conversation:
    """Turns user turns into replies, remembering item, places, question kind and date."""

    def __init__(self, tongban: Tongban):
        self.tongban = tongban

    def respond(self, turn: Turn, memory: Memory) -> Response:
        if turn.intent == DETAILS_INTENT:
            return self.details(turn, memory)
        if not compact(turn.text or ""):
            return Response(answer(self.tongban.kb, self._nothing(turn, memory)), memory)
        understood = understand(self.tongban, turn.text, memory, _hints(turn))
        reply = answer(self.tongban.kb, understood.meaning)
        if understood.context_only:
            reply = self._what_differs(reply, memory, turn)
        return Response(reply, understood.memory)

    def details(self, turn: Turn, memory: Memory) -> Response:
        """ "详情": the last question again, with its details and sources shown."""
        if memory.item not in self.tongban.kb.items:
            return Response(answer(self.tongban.kb, self._nothing(turn, memory)), memory)
        return Response(self._recall(memory, turn), memory, expanded=True)

    def _recall(self, memory: Memory, turn: Turn) -> Reply:
        """The answer to the remembered question, as it was given."""
        hints = Hints(metadata=turn.metadata, item=memory.item)
        return answer(self.tongban.kb, understand(self.tongban, "", memory, hints).meaning)

    def _what_differs(self, reply: Reply, before: Memory, turn: Turn) -> Reply:
        """A follow-up that changes only the place or the date: say what differs, and do not
        repeat a list that is the same as in the previous answer."""
        previous = self._recall(before, turn)
        if reply.body is None or reply.body != previous.body:
            return reply
        same = _SAME_AS_BEFORE.get(reply.body.kind)
        return replace(reply, body=None, lead=reply.lead + same) if same else reply

    def fallback(self, turn: Turn, memory: Memory) -> Response:
        """Low NLU confidence: answer if the text names an item after all, else apologise."""
        if compact(turn.text) and self.tongban.candidates(turn.text):
            return self.respond(turn, memory)
        return Response(answer(self.tongban.kb, self._nothing(turn, memory)), memory)

    def _nothing(self, turn: Turn, memory: Memory) -> Clarification:
        """Nothing to go on: the reply says what can be asked."""
        return Clarification((), policy_date("", Hints(metadata=turn.metadata), memory)[0])


def _hints(turn: Turn) -> Hints:
    return Hints(turn.intent, turn.entities, turn.metadata)
