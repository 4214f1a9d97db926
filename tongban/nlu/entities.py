"""Entities checked against the knowledge base: item ids, known places, whose place it is.

DIET tags spans; it cannot know that 领结昏证 or 門診慢特病 is an item, that 南山区 is not a place
we hold, or that 公积金在天津交的 makes 天津 the 参保地. `normalise_entities` fixes what the
knowledge base can tell, with the same matchers the answers use, so every channel sees clean
entities. `KnowledgeEntities` is the Rasa component that runs it after the extractors.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Any

from rapidfuzz import fuzz
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.training_data.message import Message

from tongban.assistant import Tongban
from tongban.dates import parse_loose_date
from tongban.regions import Mention
from tongban.resolve import Candidate, clear_winner, find_by_sound
from tongban.text import same_length_normal_form
from tongban.understanding import INTENT_KINDS

Entity = dict[str, Any]
EXTRACTOR = "KnowledgeEntities"
# Only questions about an item, and follow-ups, get an item or place the NLU missed; "谢谢" or a
# case number do not.
ITEM_INTENTS = frozenset(INTENT_KINDS) | {"inform"}
MIN_ALIGNMENT = 60  # how closely a misspelt mention must match its alias to be given a span


def normalise_entities(
    tongban: Tongban, text: str, intent: str | None, entities: Iterable[Entity]
) -> list[Entity]:
    """The entities with item values as item ids, unknown places dropped and roles from the text."""
    entities = _longest_of_overlaps([dict(e) for e in entities])
    # Spans of added entities are found in this form, which has the text's offsets.
    normal = same_length_normal_form(text) if intent in ITEM_INTENTS else None
    items = _items(tongban, text, normal, _of(entities, "item"))
    places = _places(tongban, text, normal, _of(entities, "place"))
    # "在上海交了8年社保": DIET may take the 年 of a duration for a date.
    dates = [e for e in _of(entities, "date") if parse_loose_date(str(e.get("value") or ""))]
    others = [e for e in entities if e.get("entity") not in ("item", "place", "date")]
    return sorted(
        items + places + dates + others, key=lambda e: (e.get("start", 0), e.get("end", 0))
    )


def _of(entities: list[Entity], name: str) -> list[Entity]:
    return [e for e in entities if e.get("entity") == name]


def _longest_of_overlaps(entities: list[Entity]) -> list[Entity]:
    """Two extractors tagging the same words (a date by regex and by DIET): keep the longer."""
    kept: list[Entity] = []
    for entity in sorted(entities, key=lambda e: -(e.get("end", 0) - e.get("start", 0))):
        if not any(_overlap(entity, k) and k["entity"] == entity["entity"] for k in kept):
            kept.append(entity)
    return kept


def _overlap(a: Entity, b: Entity) -> bool:
    if "start" not in a or "start" not in b:
        return False
    return a["start"] < b["end"] and b["start"] < a["end"]


# -- items -------------------------------------------------------------------------------------


def _items(tongban: Tongban, text: str, normal: str | None, found: list[Entity]) -> list[Entity]:
    resolved, unresolved = [], []
    for entity in found:
        item_id = _item_id(tongban, str(entity.get("value") or ""))
        if item_id is None:
            unresolved.append(entity)
        elif item_id not in {e["value"] for e in resolved}:
            if entity.get("value") != item_id:
                entity = _processed({**entity, "value": item_id})
            resolved.append(entity)
    if resolved:
        return resolved  # a fragment such as 门诊 beside a resolved item adds nothing
    if unresolved:
        return unresolved  # the dialogue offers the likely items for 驾照 on its own
    added = _item_in_text(tongban, text, normal) if normal is not None else None
    return [added] if added else []


def _item_id(tongban: Tongban, value: str) -> str | None:
    """The item a tagged span names; the span may be one character too long (离昏要)."""
    if value in tongban.kb.items:
        return value
    for span in (value, value[:-1], value[1:]):
        best = clear_winner(tongban.candidates(span)) if len(span.strip()) >= 2 else None
        if best is not None:
            return best.item_id
    return None


def _item_in_text(tongban: Tongban, text: str, normal: str) -> Entity | None:
    """An item the text names plainly (社宝卡丢了 -> the loss report) that DIET did not tag."""
    best = clear_winner(tongban.candidates(text))
    span = _span_of(best, normal) if best is not None else None
    if span is None:
        return None
    return _added("item", span, best.item_id, confidence_entity=best.score)


def _span_of(candidate: Candidate, normal: str) -> tuple[int, int] | None:
    """Where in the text the matched alias (or its words, or a misspelling of it) stands."""
    parts = candidate.matched.split("+")
    if len(parts) > 1:
        positions = [(normal.find(p), len(p)) for p in parts]
        if any(start < 0 for start, _ in positions):
            return None
        return min(s for s, _ in positions), max(s + n for s, n in positions)
    term = candidate.matched
    start = normal.find(term)
    if start < 0:
        start = find_by_sound(term, normal)
    if start >= 0:
        return start, start + len(term)
    alignment = fuzz.partial_ratio_alignment(term, normal)
    if alignment is None or alignment.score < MIN_ALIGNMENT:
        return None
    return alignment.dest_start, alignment.dest_end


# -- places ------------------------------------------------------------------------------------


def _places(tongban: Tongban, text: str, normal: str | None, found: list[Entity]) -> list[Entity]:
    mentions = tongban.regions.find(text)
    cued_roles = {m.role.value for m in mentions if m.cued}
    out, seen = [], []
    for entity in found:
        place = tongban.regions.resolve(str(entity.get("value") or ""))
        if place is None:
            continue  # not a place the knowledge base knows (a district, a street): no use
        mention = next((m for m in mentions if m.place == place), None)
        role = _role(entity.get("role"), mention, cued_roles)
        if role != entity.get("role"):
            entity = _processed({**entity, "role": role})
        out.append(entity)
        seen.append(place)
    if normal is not None:
        out += [_place_entity(m, normal) for m in mentions if m.place not in seen]
    return [e for e in out if e is not None]


def _place_entity(mention: Mention, normal: str) -> Entity | None:
    """A place the text names (房子买在湛江) that DIET did not tag."""
    start = normal.find(mention.surface)
    if start < 0:
        return None
    span = (start, start + len(mention.surface))
    return _added("place", span, mention.surface, role=mention.role.value)


def _role(nlu_role: str | None, mention: Mention | None, cued_roles: set[str]) -> str | None:
    """The text's own cue wins; else the NLU's role, unless a cued place already holds it."""
    if mention is None:
        return nlu_role
    if mention.cued or nlu_role is None or nlu_role in cued_roles:
        return mention.role.value
    return nlu_role


def _added(name: str, span: tuple[int, int], value: str, **extra: Any) -> Entity:
    """An entity this component found itself."""
    start, end = span
    entity = {"entity": name, "start": start, "end": end, "value": value, "extractor": EXTRACTOR}
    return {**entity, **extra}


def _processed(entity: Entity) -> Entity:
    return {**entity, "processors": [*entity.get("processors", []), EXTRACTOR]}


# -- the Rasa component --------------------------------------------------------------------------


@cache
def _shared_tongban() -> Tongban:
    return Tongban.load(warm=True)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False)
class KnowledgeEntities(GraphComponent, EntityExtractorMixin):
    """Runs `normalise_entities` on each parsed message (after DIET, synonyms and regexes)."""

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> KnowledgeEntities:
        _shared_tongban()  # load the knowledge base with the model, not on the first message
        return cls()

    def process(self, messages: list[Message]) -> list[Message]:
        tongban = _shared_tongban()
        for message in messages:
            intent = (message.get("intent") or {}).get("name")
            entities = normalise_entities(
                tongban, message.get("text") or "", intent, message.get("entities") or []
            )
            message.set("entities", entities, add_to_output=True)
        return messages
