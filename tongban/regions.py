"""Place names to provinces and cities: full names, short names, 简称 and aliases.

Used to resolve explicit arguments, to find places (and whose place: 户籍地 or 所在地) in free text,
and to decide whether a place lies inside a policy's scope.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import yaml

from tongban.text import compact

MUNICIPALITIES = {"11", "12", "31", "50"}
# Provinces without prefecture-level subdivisions in the code list.
NO_CITY_LIST = MUNICIPALITIES | {"71", "81", "82"}
_SUFFIXES = (
    "特别行政区",
    "维吾尔自治区",
    "壮族自治区",
    "回族自治区",
    "自治区",
    "省",
    "市",
    "地区",
    "盟",
)
# Ethnic names that prefix 自治州 (longest first), stripped to get the name people use: 恩施, 延边.
_ETHNIC = re.compile(
    r"(土家|苗|侗|布依|傣|景颇|傈僳|藏|羌|彝|白|哈尼|壮|回|蒙古|哈萨克|柯尔克孜|朝鲜)族?"
)


@dataclass(frozen=True)
class Province:
    code: str
    name: str
    short: str
    abbr: str
    aliases: tuple[str, ...] = ()

    @property
    def has_cities(self) -> bool:
        return self.code not in NO_CITY_LIST


@dataclass(frozen=True)
class City:
    code: str
    name: str
    province_code: str
    county_level: bool = False
    parent_code: str | None = None  # prefecture of a county-level city, if any

    @property
    def short(self) -> str:
        return short_name(self.name)


@dataclass(frozen=True)
class Place:
    """A resolved place: a province, optionally a prefecture, optionally a county-level city."""

    province: Province
    city: City | None = None
    county: City | None = None

    @property
    def label(self) -> str:
        parts = [self.province.name]
        if self.city:
            parts.append(self.city.name)
        if self.county:
            parts.append(self.county.name)
        return "".join(parts)

    @property
    def short_label(self) -> str:
        """The name people say: 深圳, 武汉, 江西, 昆山."""
        if self.county:
            return self.county.short
        if self.city:
            return self.city.short
        return self.province.short

    @property
    def city_known(self) -> bool:
        return self.city is not None or not self.province.has_cities

    def same_city(self, other: Place) -> bool:
        if self.province.code != other.province.code:
            return False
        if not self.province.has_cities:
            return True
        return (
            self.city is not None and other.city is not None and self.city.code == other.city.code
        )


class Role(str, Enum):
    HOME = "home"  # 户籍地 / 参保地
    AT = "at"  # 所在地 / 办理地
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Mention:
    place: Place
    start: int
    end: int
    surface: str
    role: Role
    cued: bool = False  # the role comes from words around the name, not from the default


def short_name(full: str) -> str:
    """深圳市 -> 深圳, 恩施土家族苗族自治州 -> 恩施, 锡林郭勒盟 -> 锡林郭勒."""
    if full.endswith("自治州"):
        stem = full[: -len("自治州")]
        match = _ETHNIC.search(stem)
        return stem[: match.start()] if match and match.start() >= 2 else stem
    if full.endswith("自治县"):
        return full
    for suffix in _SUFFIXES:
        if full.endswith(suffix) and len(full) - len(suffix) >= 2:
            return full[: -len(suffix)]
    return full


def covers(scope: Place, place: Place) -> bool | None:
    """Whether `place` lies inside `scope`; None when the place is too vague to tell."""
    if scope.province.code != place.province.code:
        return False
    if scope.city is None:
        return True
    if place.city is None:
        # A county-level city directly under its province (仙桃) is in no prefecture.
        return None if place.province.has_cities and place.county is None else False
    return scope.city.code == place.city.code


# Words around a place name that say whose place it is. Checked nearest-first.
_HOME_BEFORE = (
    "户籍所在地是", "户籍所在地在", "户口所在地是", "户口所在地在", "户籍地是", "户籍地在", "户籍地",
    "户籍在", "户籍是", "户口在", "户口是", "户口落在", "老家在", "老家是", "老家", "籍贯是", "籍贯",
    "参保地是", "参保地在", "参保地", "参保在", "医保在", "社保在", "公积金在", "公积金是", "退休在",
    "户口", "户籍", "户口都在", "户籍都在", "我是", "本人是", "从", "不回",
    "不用回", "没回",
)  # fmt: skip
_HOME_AFTER = (
    "户口",
    "户籍",
    "籍",
    "人",
    "老家",
    "参保",
    "医保",
    "社保",
    "的户口",
    "的户籍",
    "的社保",
    "的医保",
    "交的",
    "缴的",
    "交过",
    "缴过",
    "交社保",
    "缴社保",
    "牌照",
    "车牌",
)
_NOT_PERSON = (
    "社民事员口才力大工们家"  # 人社局, 人民, 人事: "人" that does not mean "a person from"
)
_AT_BEFORE = (
    "所在地是", "所在地在", "所在地", "办理地是", "办理地在", "办理地", "目前在", "现在在", "现居",
    "居住在", "住在", "定居在", "人在", "身在", "来到", "到了", "迁到", "迁往", "迁入", "搬到", "在", "到", "去", "来",
)  # fmt: skip
_AT_AFTER = (
    "工作", "打工", "上班", "务工", "生活", "居住", "定居", "读书", "上学", "这边", "当地", "就医", "看病",
    "住院", "创业", "办", "领", "能", "可以", "可不可以",
)  # fmt: skip


class RegionIndex:
    """All provinces and cities, with the names people use for them."""

    def __init__(self, provinces: list[Province], cities: list[City], source: dict):
        self.provinces = {p.code: p for p in provinces}
        self.cities = {c.code: c for c in cities}
        self.source = source
        self._exact: dict[str, Place] = {}  # names accepted as an explicit argument
        self._free: dict[str, Place] = {}  # names safe to spot inside free text
        self._build()
        self._max_len = max(len(name) for name in self._free)

    @classmethod
    def from_dir(cls, folder: Path) -> RegionIndex:
        provinces_raw = yaml.load((folder / "provinces.yaml").read_text("utf-8"), Loader=_Loader)
        cities_raw = yaml.load((folder / "cities.yaml").read_text("utf-8"), Loader=_Loader)
        provinces = [
            Province(
                str(p["code"]), p["name"], p["short"], p["abbr"], tuple(p.get("aliases") or ())
            )
            for p in provinces_raw["provinces"]
        ]
        prefecture_codes = {str(c["code"]) for c in cities_raw["cities"]}
        cities = [City(str(c["code"]), c["name"], str(c["province"])) for c in cities_raw["cities"]]
        cities += [
            City(
                str(c["code"]),
                c["name"],
                str(c["province"]),
                county_level=True,
                parent_code=str(c["city"]) if str(c["city"]) in prefecture_codes else None,
            )
            for c in cities_raw["county_cities"]
        ]
        return cls(provinces, cities, provinces_raw.get("source", {}))

    def place_of_city(self, city: City) -> Place:
        province = self.provinces[city.province_code]
        if not city.county_level:
            return Place(province, city)
        parent = self.cities.get(city.parent_code) if city.parent_code else None
        return Place(province, parent, city)

    def _build(self) -> None:
        def add(table: dict[str, Place], name: str, place: Place, overwrite: bool = False) -> None:
            if name and (overwrite or name not in table):
                table[name] = place

        # Order matters: provinces first, so 吉林 and 海南 mean the provinces; prefectures before
        # county-level cities.
        for province in self.provinces.values():
            place = Place(province)
            for name in (province.name, province.short, *province.aliases):
                add(self._exact, name, place)
                if len(name) >= 2:
                    add(self._free, name, place)
            add(self._exact, province.abbr, place)
        for city in sorted(self.cities.values(), key=lambda c: c.county_level):
            place = self.place_of_city(city)
            province = place.province
            names = [city.name, province.name + city.name, province.short + city.name]
            if len(city.short) >= 2:
                names += [city.short, province.short + city.short]
            for name in names:
                add(self._exact, name, place)
            # A county-level city's bare short name (合作, 江山) is too often an ordinary word.
            free_names = names if not city.county_level else [n for n in names if n.endswith("市")]
            for name in free_names:
                add(self._free, name, place)

    def resolve(self, name: str | None) -> Place | None:
        """An explicit place argument: 深圳, 广东省深圳市, 粤, 湖北武汉, 昆山."""
        key = compact(name or "")
        if not key:
            return None
        if key in self._exact:
            return self._exact[key]
        mentions = self.find(key)
        if not mentions:
            return None
        # "湖北省 武汉" style: the most specific place that all mentions agree on.
        best = max(mentions, key=lambda m: (m.place.county is not None, m.place.city is not None))
        if all(m.place.province.code == best.place.province.code for m in mentions):
            return best.place
        return None

    def find(self, text: str) -> list[Mention]:
        """Places named in free text, longest match first, each with whose place it is."""
        text = compact(text)
        found: list[Mention] = []
        i = 0
        while i < len(text):
            for length in range(min(self._max_len, len(text) - i), 1, -1):
                place = self._free.get(text[i : i + length])
                if place is not None:
                    found.append(Mention(place, i, i + length, text[i : i + length], Role.UNKNOWN))
                    i += length
                    break
            else:
                i += 1
        found = _merge_province_city(found)
        return _assign_roles(text, found)


def _merge_province_city(mentions: list[Mention]) -> list[Mention]:
    """'广东深圳' or '湖北省的武汉' names one place, not two."""
    merged: list[Mention] = []
    for mention in mentions:
        if merged:
            prev = merged[-1]
            adjacent = mention.start - prev.end <= 1
            if (
                adjacent
                and prev.place.city is None
                and mention.place.city is not None
                and prev.place.province.code == mention.place.province.code
            ):
                merged[-1] = Mention(
                    mention.place,
                    prev.start,
                    mention.end,
                    prev.surface + mention.surface,
                    Role.UNKNOWN,
                )
                continue
        merged.append(mention)
    return merged


def _role_of(text: str, mention: Mention) -> Role:
    before = text[max(0, mention.start - 8) : mention.start]
    after = text[mention.end : mention.end + 6]
    home_after = next((w for w in _HOME_AFTER if after.startswith(w)), None)
    if home_after == "人" and after[1:2] and after[1] in _NOT_PERSON:
        home_after = None
    if any(before.endswith(w) for w in _HOME_BEFORE) or home_after:
        return Role.HOME
    if any(before.endswith(w) for w in _AT_BEFORE) or any(after.startswith(w) for w in _AT_AFTER):
        return Role.AT
    return Role.UNKNOWN


def _assign_roles(text: str, mentions: list[Mention]) -> list[Mention]:
    roles = [_role_of(text, m) for m in mentions]
    # Whatever is not marked as home is where the person is (or wants to apply).
    return [
        Mention(
            m.place,
            m.start,
            m.end,
            m.surface,
            Role.AT if r is Role.UNKNOWN else r,
            r is not Role.UNKNOWN,
        )
        for m, r in zip(mentions, roles, strict=True)
    ]


_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
