"""Load the YAML knowledge base into typed records, validating every file, key and reference.

`load_knowledge` fails with all problems found; `check_knowledge` adds the editorial checks
(orphans, shared aliases) that `tongban kb check` reports.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from tongban.errors import KnowledgeError, TongbanError
from tongban.kb.model import (
    CHANNEL_KINDS,
    MODES,
    NATIONWIDE,
    PLACE_RULES,
    SCOPES,
    Batch,
    Channel,
    Document,
    DocumentNeed,
    Exclusion,
    Fact,
    Item,
    KnowledgeBase,
    Mode,
    Programme,
    QuestionFact,
    Scheme,
    Source,
    Stage,
    UncoveredService,
)
from tongban.kb.schema import Record
from tongban.regions import Place, RegionIndex
from tongban.settings import settings
from tongban.text import compact

HOTLINE_CHANNEL = "hotline_12345"
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

ITEM_KEYS = (
    "id", "name", "aliases", "category", "department", "modes", "channels", "place_rule", "summary",
    "steps", "documents", "eligibility", "time_limit", "fees", "validity", "notes", "not_covered",
    "sources", "valid_from", "valid_from_confirmed", "last_verified", "related", "stages",
    "editor_note", "facts", "cross_province",
)  # fmt: skip
STAGE_KEYS = (
    "id",
    "name",
    "from",
    "until",
    "regions",
    "partly",
    "scope",
    "summary",
    "documents",
    "eligibility",
    "sources",
    "editor_note",
)
SOURCE_KEYS = ("id", "title", "issuer", "ref", "date", "url", "grade", "editor_note")
GRADES = ("A", "B", "C", "D")


class KnowledgeErrors(TongbanError):
    """Every problem found while loading; the message is the first one, on one line."""

    def __init__(self, errors: list[KnowledgeError]):
        self.errors = errors
        more = (
            f"（另有 {len(errors) - 1} 处问题，运行 tongban kb check 查看全部）"
            if len(errors) > 1
            else ""
        )
        super().__init__(f"知识库有误：{errors[0]}{more}")


def default_root() -> Path:
    """The knowledge base of the settings (TONGBAN_KNOWLEDGE, default ./knowledge)."""
    return settings().knowledge_dir


def load_knowledge(root: Path | str | None = None) -> KnowledgeBase:
    return _Builder(Path(root) if root else default_root()).build()


def check_knowledge(root: Path | str | None = None) -> tuple[KnowledgeBase, list[str]]:
    """Load strictly and add editorial problems; returns the base and the problems found."""
    kb = load_knowledge(root)
    return kb, _editorial_problems(kb)


class _Builder:
    def __init__(self, root: Path):
        self.root = root
        self.errors: list[KnowledgeError] = []
        self.sources: dict[str, Source] = {}
        self.documents: dict[str, Document] = {}
        self.channels: dict[str, Channel] = {}
        self.regions: RegionIndex | None = None

    def build(self) -> KnowledgeBase:
        if not self.root.is_dir():
            raise KnowledgeErrors(
                [
                    KnowledgeError(
                        str(self.root),
                        None,
                        None,
                        "知识库目录不存在",
                        "请在项目目录中运行，或用 TONGBAN_KNOWLEDGE 指定知识库目录",
                    )
                ]
            )
        try:
            self.regions = RegionIndex.from_dir(self.root / "regions")
        except (OSError, KeyError, TypeError, yaml.YAMLError) as exc:
            raise KnowledgeErrors(
                [
                    KnowledgeError(
                        self._rel(self.root / "regions"),
                        None,
                        None,
                        f"地区数据无法读取（{exc}）",
                        "请恢复 provinces.yaml 和 cities.yaml",
                    )
                ]  # fmt: skip
            ) from None
        self._catalogue("sources", self._source, self.sources)
        self._catalogue("documents", self._document, self.documents)
        self._catalogue("channels", self._channel, self.channels)
        items = self._items()
        programme = self._programme()
        schemes = self._schemes()
        uncovered = self._uncovered()
        self._check_references(items, programme, schemes)
        if self.errors:
            raise KnowledgeErrors(self.errors)
        return KnowledgeBase(
            root=str(self.root),
            items=items,
            sources=self.sources,
            documents=self.documents,
            channels=self.channels,
            programme=programme,
            schemes=schemes,
            uncovered=uncovered,
            regions=self.regions,
        )

    # -- files ---------------------------------------------------------------------------------

    def _rel(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.root.parent))
        except ValueError:
            return str(path)

    def _read(self, path: Path) -> Any:
        try:
            return yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = f"第 {mark.line + 1} 行" if mark else "某处"
            self.errors.append(
                KnowledgeError(
                    self._rel(path),
                    None,
                    None,
                    f"YAML 格式错误（{line}）",
                    "请检查缩进、冒号和引号是否成对",
                )  # fmt: skip
            )
        except (OSError, UnicodeDecodeError) as exc:
            self.errors.append(
                KnowledgeError(
                    self._rel(path), None, None, f"无法读取（{exc}）", "请保存为 UTF-8 文本"
                )
            )
        return None

    def _catalogue(self, folder: str, make, into: dict) -> None:
        for path in sorted((self.root / folder).glob("*.yaml")):
            data = self._read(path)
            if data is None:
                continue
            file = self._rel(path)
            top = Record(data, file, None, self.errors)
            for record in top.records(folder):
                record.label = f"{folder} {record.data.get('id', '?')}"
                made = make(record)
                if not made.id:
                    continue
                if made.id in into:
                    record._error(
                        "id",
                        f"id “{made.id}”重复",
                        "同一目录下 id 必须唯一，请改名或删除重复的一条",
                    )
                else:
                    into[made.id] = made

    def _source(self, r: Record) -> Source:
        r.allow_only(SOURCE_KEYS)
        return Source(
            id=r.identifier(), title=r.text("title"), issuer=r.text("issuer"), ref=r.text("ref", False),
            date=r.source_date(), url=r.text("url", False), grade=r.choice("grade", GRADES),
            editor_note=r.text("editor_note", False),
        )  # fmt: skip

    def _document(self, r: Record) -> Document:
        r.allow_only(("id", "name", "note"))
        return Document(id=r.identifier(), name=r.text("name"), note=r.text("note", False))

    def _channel(self, r: Record) -> Channel:
        r.allow_only(("id", "name", "kind", "note", "url", "sources"))
        channel = Channel(
            id=r.identifier(), name=r.text("name"), kind=r.choice("kind", CHANNEL_KINDS),
            note=r.text("note", False), url=r.text("url", False), sources=r.texts("sources"),
        )  # fmt: skip
        self._need_sources(r, channel.sources)
        return channel

    # -- items ---------------------------------------------------------------------------------

    def _items(self) -> dict[str, Item]:
        items: dict[str, Item] = {}
        for path in sorted((self.root / "items").rglob("*.yaml")):
            data = self._read(path)
            if data is None:
                continue
            label = (
                f"事项 {data.get('id', path.stem)}"
                if isinstance(data, dict)
                else f"事项 {path.stem}"
            )
            r = Record(data, self._rel(path), label, self.errors)
            item = self._item(r, self._rel(path))
            if item is None:
                continue
            if item.id != path.stem:
                r._error(
                    "id",
                    f"id “{item.id}”与文件名“{path.name}”不一致",
                    f"请把文件改名为 {item.id}.yaml",
                )
            if item.id in items:
                r._error(
                    "id",
                    f"事项 id “{item.id}”重复（另见 {items[item.id].file}）",
                    "请改用唯一的 id",
                )
                continue
            items[item.id] = item
        if not items:
            self.errors.append(
                KnowledgeError(
                    self._rel(self.root / "items"), None, None, "没有任何事项", "请添加事项文件"
                )
            )
        return items

    def _documents(self, r: Record, key: str, required: bool) -> tuple[DocumentNeed, ...] | None:
        if key not in r.data and not required:
            return None
        needs = []
        for entry in r.records(key, required):
            entry.allow_only(("doc", "condition"))
            doc_id = entry.text("doc")
            if not doc_id:
                continue
            doc = self.documents.get(doc_id)
            if doc is None:
                entry._error(
                    "doc",
                    f"材料“{doc_id}”不在材料目录中",
                    "请在 knowledge/documents/ 中添加，或改用已有的 id",
                )
                continue
            needs.append(DocumentNeed(doc, entry.text("condition", False)))
        return tuple(needs)

    def _need_sources(self, r: Record, ids: tuple[str, ...]) -> None:
        for source_id in ids:
            if source_id not in self.sources:
                r._error(
                    "sources",
                    f"来源“{source_id}”不在来源目录中",
                    "请在 knowledge/sources/ 中添加该来源，或改用已有的 id",
                )

    def _item(self, r: Record, file: str) -> Item | None:
        r.allow_only(ITEM_KEYS)
        item_id = r.identifier()
        channel_ids = r.texts("channels")
        channels = []
        for channel_id in channel_ids:
            if channel_id in self.channels:
                channels.append(self.channels[channel_id])
            else:
                r._error(
                    "channels",
                    f"渠道“{channel_id}”不在渠道目录中",
                    "请在 knowledge/channels/ 中添加，或改用已有的 id",
                )
        modes = r.texts("modes", allow_empty=True)
        for mode in modes:
            if mode not in MODES:
                r._error("modes", f"“{mode}”不是办理模式", f"只能是：{'、'.join(MODES)}")
        sources = r.texts("sources")
        self._need_sources(r, sources)
        stages = tuple(s for s in (self._stage(s) for s in r.records("stages")) if s is not None)
        self._check_timeline(r, stages)
        valid_from, last_verified = r.date("valid_from"), r.date("last_verified")
        documents = self._documents(r, "documents", False)
        if documents is None and any(s.documents is None for s in stages):
            r._error(
                "documents",
                "缺少材料清单",
                "请填写事项的 documents，或在每个阶段里分别填写 documents",
            )
        if not item_id or valid_from is None or last_verified is None:
            return None
        return Item(
            id=item_id, name=r.text("name"), aliases=r.texts("aliases"), category=r.text("category"),
            department=r.text("department"), modes=modes, channels=tuple(channels),
            place_rule=r.choice("place_rule", PLACE_RULES, "at"), summary=r.text("summary"),
            steps=r.texts("steps"), documents=documents or (), stages=stages, sources=sources,
            valid_from=valid_from, last_verified=last_verified, file=file,
            eligibility=r.texts("eligibility", False), time_limit=r.text("time_limit", False),
            fees=r.text("fees", False), validity=r.text("validity", False),
            notes=r.texts("notes", False), not_covered=self._exclusions(r),
            related=r.texts("related", False), editor_note=r.text("editor_note", False),
            facts=self._question_facts(r, valid_from),
            valid_from_confirmed=self._flag(r, "valid_from_confirmed"),
            cross_province=self._flag(r, "cross_province", default=True),
        )  # fmt: skip

    @staticmethod
    def _flag(r: Record, key: str, default: bool = False) -> bool:
        value = r.data.get(key, default)
        if not isinstance(value, bool):
            r._error(key, f"“{value}”不是 true 或 false", f"写成 {key}: true，或删掉这一行")
            return default
        return value

    def _question_facts(self, r: Record, valid_from: dt.date | None) -> tuple[QuestionFact, ...]:
        """facts: [{text, asks, sources, from?}]: answers to specific questions."""
        facts = []
        for f in r.records("facts", required=False):
            f.allow_only(("text", "asks", "sources", "from"))
            sources = f.texts("sources")
            self._need_sources(f, sources)
            start = f.date("from", required=False) or valid_from
            text, asks = f.text("text"), f.texts("asks")
            for ask in asks:
                if len(compact(ask)) < 2:
                    f._error("asks", f"问法“{ask}”太短", "每个问法至少写 2 个字")
            if text and asks and start:
                facts.append(QuestionFact(text, asks, sources, start))
        return tuple(facts)

    def _exclusions(self, r: Record) -> tuple[Exclusion, ...]:
        """not_covered entries: plain text, or {text, phrases} to recognise such questions."""
        out = []
        for index, entry in enumerate(r.data.get("not_covered") or []):
            if isinstance(entry, str):
                out.append(Exclusion(entry.strip()))
                continue
            e = Record(entry, r.file, r.label, self.errors, f"not_covered[{index}]")
            e.allow_only(("text", "phrases"))
            out.append(Exclusion(e.text("text"), e.texts("phrases")))
        if "not_covered" in r.data and not isinstance(r.data["not_covered"], list):
            r._error(
                "not_covered", "应为列表", "每一项写成一行文字，或 {text: 说明, phrases: [说法]}"
            )
        return tuple(out)

    def _places(self, r: Record, key: str) -> tuple[Place, ...] | None:
        names = r.texts(key)
        if names == (NATIONWIDE,):
            return ()
        places = []
        for name in names:
            place = self.regions.resolve(name) if name != NATIONWIDE else None
            if place is None:
                fix = (
                    "“全国”只能单独使用"
                    if name == NATIONWIDE
                    else "请写省或地级市的全称，例如 湖北省武汉市"
                )
                r._error(key, f"地区“{name}”无法识别", fix)
                continue
            places.append(place)
        return tuple(places) if places or not names else None

    def _stage(self, r: Record) -> Stage | None:
        r.allow_only(STAGE_KEYS)
        sources = r.texts("sources")
        self._need_sources(r, sources)
        start, end = r.date("from"), r.date("until", required=False)
        has_partly = "partly" in r.data
        # partly: places where the stage runs only in some part (not known which); [全国] = a
        # roll-out somewhere in the country. regions may then be left out.
        partly = self._places(r, "partly") if has_partly else ()
        everywhere = has_partly and partly == ()
        regions = self._places(r, "regions") if "regions" in r.data or not has_partly else ()
        if has_partly and "regions" in r.data and regions == ():
            r._error("regions", "写了 partly 时 regions 不能是“全国”", "regions 只写全面实施的地区")
        elif everywhere and regions:
            r._error(
                "partly",
                "partly: [全国] 不能和具体地区同时写",
                "删掉 regions，或把 partly 改成具体地区",
            )
        listed = tuple(regions or ()) + tuple(p for p in partly or () if p not in (regions or ()))
        eligibility = r.texts("eligibility", False) if "eligibility" in r.data else None
        stage = Stage(
            id=r.identifier(), name=r.text("name"), start=start, end=end, regions=listed,
            summary=r.text("summary"), sources=sources, documents=self._documents(r, "documents", False),
            eligibility=eligibility, editor_note=r.text("editor_note", False),
            scope=r.choice("scope", SCOPES) if "scope" in r.data else None,
            partly=tuple(partly or ()), partly_everywhere=everywhere,
        )  # fmt: skip
        if start and end and end < start:
            r._error("until", f"结束日期 {end} 早于开始日期 {start}", "请检查两个日期")
        return stage if start and regions is not None and partly is not None else None

    def _check_timeline(self, r: Record, stages: tuple[Stage, ...]) -> None:
        for index, (prev, cur) in enumerate(itertools.pairwise(stages), start=1):
            if cur.start <= prev.start:
                r._error(
                    f"stages[{index}].from",
                    f"阶段“{cur.id}”不晚于前一阶段“{prev.id}”",
                    "阶段请按开始日期先后排列",
                )
            elif prev.end is None or prev.end >= cur.start:
                r._error(
                    f"stages[{index - 1}].until",
                    f"阶段“{prev.id}”与“{cur.id}”时间重叠",
                    f"请把“{prev.id}”的 until 设为 {cur.start} 之前的一天",
                )
        ids = [s.id for s in stages]
        for stage_id in {i for i in ids if ids.count(i) > 1}:
            r._error("stages", f"阶段 id “{stage_id}”重复", "同一事项内阶段 id 必须唯一")

    # -- programme and schemes -----------------------------------------------------------------

    def _facts(self, r: Record) -> tuple[Fact, ...]:
        facts = []
        for f in r.records("facts", required=False):
            f.allow_only(("text", "from", "sources"))
            sources = f.texts("sources")
            self._need_sources(f, sources)
            start = f.date("from")
            if start:
                facts.append(Fact(f.text("text"), start, sources))
        return tuple(facts)

    def _batch(self, r: Record) -> Batch:
        r.allow_only(("name", "count", "due", "from", "ref", "examples", "sources"))
        sources = r.texts("sources")
        self._need_sources(r, sources)
        return Batch(
            name=r.text("name"), count=r.integer("count") or 0, sources=sources,
            due=r.date("due", False) or r.date("from", False), ref=r.text("ref", False),
            examples=r.texts("examples", False),
        )  # fmt: skip

    def _programme(self) -> Programme | None:
        path = self.root / "programme.yaml"
        data = self._read(path) if path.exists() else None
        if data is None:
            return None
        top = Record(data, self._rel(path), "programme", self.errors)
        r = Record(top.data.get("programme"), top.file, "programme", self.errors)
        r.allow_only(("name", "summary", "total_items", "batches", "expansions", "modes", "facts"))
        modes = []
        for m in r.records("modes"):
            m.allow_only(("name", "summary", "from", "sources"))
            sources = m.texts("sources")
            self._need_sources(m, sources)
            modes.append(Mode(m.choice("name", MODES), m.text("summary"), m.date("from"), sources))
        return Programme(
            name=r.text("name"), summary=r.text("summary"), total_items=r.integer("total_items") or 0,
            batches=tuple(self._batch(b) for b in r.records("batches")),
            expansions=tuple(self._batch(b) for b in r.records("expansions", False)),
            modes=tuple(modes), facts=self._facts(r),
        )  # fmt: skip

    def _schemes(self) -> dict:
        path = self.root / "schemes.yaml"
        data = self._read(path) if path.exists() else None
        if data is None:
            return {}
        top = Record(data, self._rel(path), "schemes", self.errors)
        schemes = {}
        for r in top.records("schemes"):
            r.label = f"区域 {r.data.get('id', '?')}"
            r.allow_only(
                (
                    "id",
                    "name",
                    "aliases",
                    "members",
                    "from",
                    "item_count",
                    "summary",
                    "facts",
                    "sources",
                )
            )
            sources = r.texts("sources")
            self._need_sources(r, sources)
            scheme = Scheme(
                id=r.identifier(), name=r.text("name"), aliases=r.texts("aliases", False),
                members=self._places(r, "members") or (), start=r.date("from"), summary=r.text("summary"),
                sources=sources, item_count=r.integer("item_count", False), facts=self._facts(r),
            )  # fmt: skip
            if scheme.id in schemes:
                r._error("id", f"区域 id “{scheme.id}”重复", "请改用唯一的 id")
            schemes[scheme.id] = scheme
        return schemes

    def _uncovered(self) -> dict[str, UncoveredService]:
        """knowledge/not_covered.yaml: services recognised but not (yet) held."""
        path = self.root / "not_covered.yaml"
        data = self._read(path) if path.exists() else None
        if data is None:
            return {}
        top = Record(data, self._rel(path), "not_covered", self.errors)
        services: dict[str, UncoveredService] = {}
        for r in top.records("services"):
            r.label = f"未收录事项 {r.data.get('id', '?')}"
            r.allow_only(("id", "name", "category", "phrases", "refer", "sources"))
            sources = r.texts("sources", False)
            self._need_sources(r, sources)
            service = UncoveredService(
                id=r.identifier(), name=r.text("name"), category=r.text("category"),
                phrases=r.texts("phrases"), refer=r.text("refer", False), sources=sources,
            )  # fmt: skip
            if service.id in services:
                r._error("id", f"id “{service.id}”重复", "请改用唯一的 id")
            services[service.id] = service
        return services

    def _check_references(self, items: dict[str, Item], programme, schemes) -> None:
        for item in items.values():
            for related in item.related:
                if related not in items:
                    self.errors.append(
                        KnowledgeError(
                            item.file,
                            f"事项 {item.id}",
                            "related",
                            f"相关事项“{related}”不存在",
                            "请改成已有事项的 id，或删除这一项",
                        )  # fmt: skip
                    )
            if not item.stages:
                self.errors.append(
                    KnowledgeError(
                        item.file,
                        f"事项 {item.id}",
                        "stages",
                        "没有任何阶段",
                        "请至少写一个阶段（from、regions、summary、sources）",
                    )
                )


# Wording that belongs in an `editor_note`, not in text citizens read.
EDITOR_PHRASES = re.compile(
    r"这里按|来源只(写|给出)|来源(没有|未)(给出|写明)|来源不一致|本知识库|知识库(没有|里没有|未收录)"
    r"|未查到|确切日期不详|本阶段以|起始日即|起[记计](?:[。；，]|$)"
)


def citizen_texts(item: Item) -> list[tuple[str, str]]:
    """(field, text) for every piece of an item that a citizen may read."""
    texts = [("summary", item.summary), ("time_limit", item.time_limit), ("fees", item.fees)]
    texts += [("steps", t) for t in item.steps] + [("notes", t) for t in item.notes]
    texts += [("eligibility", t) for t in item.eligibility]
    texts += [("not_covered", e.text) for e in item.not_covered]
    texts += [("facts", f.text) for f in item.facts]
    for stage in item.stages:
        texts.append((f"stages.{stage.id}.summary", stage.summary))
        texts += [(f"stages.{stage.id}.eligibility", t) for t in stage.eligibility or ()]
    return [(key, text) for key, text in texts if text]


def knowledge_todos(kb: KnowledgeBase) -> list[str]:
    """What editors still have to do; reported by `tongban kb check`, not failing it:
    region lists that do not say whether they are complete, and facts resting only on reposts."""
    todos = []
    for item in kb.items.values():
        for stage in item.stages:
            if not stage.nationwide and stage.scope is None:
                todos.append(
                    f"{item.file} · 阶段 {stage.id}：地区列表没有写 scope（complete 完整 / partial "
                    "不完整）；未写时按不完整处理，列表外的地方答“未确认”"
                )
        groups = [("事项级事实", item.sources)] + [(f"阶段 {s.id}", s.sources) for s in item.stages]
        for label, ids in groups:
            sources = kb.sources_for(ids)
            if sources and not any(source.official for source in sources):
                todos.append(
                    f"{item.file} · {label}：只有转载来源（{'、'.join(s.id for s in sources)}），"
                    "请补充政府网站或中央媒体的来源"
                )
    for item in kb.items.values():
        for stage in item.stages:
            same = [
                s.id for s in kb.sources_for(stage.sources) if s.date == stage.start.isoformat()
            ]
            if same and not stage.editor_note:
                todos.append(
                    f"{item.file} · 阶段 {stage.id}：起始日 {stage.start} 与来源（{'、'.join(same)}）的日期相同，"
                    "可能是网页或报道的发布日期：请核对规定从哪天开始适用，并在 editor_note 里写明依据"
                )
    for item, label, sources in weak_only_facts(kb):
        todos.append(
            f"{item.file} · {label}：只有D级来源（{'、'.join(s.id for s in sources)}），不能当作已确认的事实："
            "请补充官方文件或中央媒体的来源；找到之前，群众看到的文字要说明以办理机关为准，"
            "并列入 knowledge/README.md 的“待核实”"
        )
    return todos


def item_source_ids(item: Item) -> list[str]:
    """Every source an item cites: item-level, its stages' and its question facts'."""
    ids = list(item.sources)
    for stage in item.stages:
        ids += stage.sources
    for fact in item.facts:
        ids += fact.sources
    return list(dict.fromkeys(ids))


def _valid_from_problems(kb: KnowledgeBase) -> list[str]:
    """An item's valid_from equal to a cited source's date is usually a page's publication date,
    not the date the rules apply from; flagged unless the editor marked it as confirmed."""
    problems = []
    for item in kb.items.values():
        if item.valid_from_confirmed:
            continue
        same = [
            s.id
            for s in kb.sources_for(item_source_ids(item))
            if s.date == item.valid_from.isoformat()
        ]
        if same:
            problems.append(
                f"{item.file} · 事项 {item.id} · 字段 valid_from：{item.valid_from} 与来源"
                f"（{'、'.join(same)}）的日期相同，可能是网页或报道的发布日期，而不是规定开始适用的日期："
                "请改成规定的施行或实施日期；确认两者确是同一天的，写 valid_from_confirmed: true，"
                "并在 editor_note 里说明依据"
            )
    return problems


def normalized_url(url: str) -> str:
    """The form two addresses are compared in: no scheme, no www., no trailing slash, lower-case host."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower().removeprefix("www.")
    path = parts.path.rstrip("/")
    return host + path + (f"?{parts.query}" if parts.query else "")


def _duplicate_url_problems(kb: KnowledgeBase) -> list[str]:
    """Two source ids for one address: one document catalogued twice."""
    owners: dict[str, str] = {}
    problems = []
    for source in kb.sources.values():
        if not source.url:
            continue
        key = normalized_url(source.url)
        if key in owners:
            problems.append(
                f"来源“{source.id}”和“{owners[key]}”的网址相同（{source.url}）：同一份资料只能有一条来源，"
                f"请删掉一条，并把引用改成留下的 id"
            )
        else:
            owners[key] = source.id
    return problems


HARD_FACT_GROUPS = "事项级事实（步骤、材料、条件、时限）"


def weak_only_facts(kb: KnowledgeBase) -> list[tuple[Item, str, list[Source]]]:
    """Hard facts (item-level facts, a stage's dates and places, a question fact) whose every
    source is grade D: (item, label, sources)."""
    out = []
    for item in kb.items.values():
        groups = [(HARD_FACT_GROUPS, item.sources)]
        groups += [(f"阶段 {s.id}", s.sources) for s in item.stages]
        groups += [(f"问答事实“{f.text[:16]}…”", f.sources) for f in item.facts]
        for label, ids in groups:
            sources = kb.sources_for(ids)
            if sources and all(source.grade == "D" for source in sources):
                out.append((item, label, sources))
    return out


def _editorial_problems(kb: KnowledgeBase) -> list[str]:
    """Orphaned catalogue entries, aliases shared by two items, editors' notes in citizens' text."""
    problems = [
        f"{item.file} · 事项 {item.id} · 字段 {key}：“{EDITOR_PHRASES.search(text).group(0)}”"
        "是写给编辑的说明，群众会看到：请移到 editor_note"
        for item in kb.items.values()
        for key, text in citizen_texts(item)
        if EDITOR_PHRASES.search(text)
    ]
    problems += _valid_from_problems(kb) + _duplicate_url_problems(kb)
    used_sources: set[str] = set()
    used_docs: set[str] = set()
    used_channels: set[str] = set()
    for item in kb.items.values():
        used_sources.update(item.sources)
        used_sources.update(s for f in item.facts for s in f.sources)
        used_channels.update(c.id for c in item.channels)
        used_docs.update(n.doc.id for n in item.documents)
        for stage in item.stages:
            used_sources.update(stage.sources)
            used_docs.update(n.doc.id for n in stage.documents or ())
    used_channels.add(HOTLINE_CHANNEL)  # every fallback and handoff answer names the hotline
    for channel in kb.channels.values():
        if channel.id in used_channels:
            used_sources.update(channel.sources)
    if kb.programme:
        for group in (
            kb.programme.batches,
            kb.programme.expansions,
            kb.programme.modes,
            kb.programme.facts,
        ):
            for entry in group:
                used_sources.update(entry.sources)
    for service in kb.uncovered.values():
        used_sources.update(service.sources)
    for scheme in kb.schemes.values():
        used_sources.update(scheme.sources)
        for fact in scheme.facts:
            used_sources.update(fact.sources)
    for label, catalogue, used in (
        ("来源", kb.sources, used_sources),
        ("材料", kb.documents, used_docs),
        ("渠道", kb.channels, used_channels),
    ):
        for entry_id in sorted(set(catalogue) - used):
            problems.append(f"{label}“{entry_id}”没有被任何事项引用（孤儿）：请引用它或删除")
    terms = {t: item.id for item in kb.items.values() for t in (item.name, *item.aliases)}
    for service in kb.uncovered.values():
        if service.name in terms or service.id in kb.items:
            problems.append(
                f"未收录事项“{service.name}”已经有事项 {terms.get(service.name, service.id)}："
                "请从 knowledge/not_covered.yaml 删除"
            )
        for phrase in service.phrases:
            if phrase in terms:
                problems.append(
                    f"未收录事项 {service.id} 的说法“{phrase}”是事项 {terms[phrase]} 的名称或别名："
                    "请删掉这个说法，或删掉这条未收录事项"
                )
    owners: dict[str, str] = {}
    for item in kb.items.values():
        for term in {item.name, *item.aliases}:
            if term in owners and owners[term] != item.id:
                problems.append(
                    f"说法“{term}”同时属于事项 {owners[term]} 和 {item.id}：请只留在一个事项里"
                )
            owners.setdefault(term, item.id)
    return problems
