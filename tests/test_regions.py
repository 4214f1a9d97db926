"""Place names: every province by full name, short name and 简称; cities; whose place it is."""

import pytest

from tongban.regions import Role

PROVINCES = {
    "北京市": ["北京", "京"], "天津市": ["天津", "津"], "河北省": ["河北", "冀"], "山西省": ["山西", "晋"],
    "内蒙古自治区": ["内蒙古", "内蒙", "蒙"], "辽宁省": ["辽宁", "辽"], "吉林省": ["吉林", "吉"],
    "黑龙江省": ["黑龙江", "黑"], "上海市": ["上海", "沪"], "江苏省": ["江苏", "苏"], "浙江省": ["浙江", "浙"],
    "安徽省": ["安徽", "皖"], "福建省": ["福建", "闽"], "江西省": ["江西", "赣"], "山东省": ["山东", "鲁"],
    "河南省": ["河南", "豫"], "湖北省": ["湖北", "鄂"], "湖南省": ["湖南", "湘"], "广东省": ["广东", "粤"],
    "广西壮族自治区": ["广西", "桂"], "海南省": ["海南", "琼"], "重庆市": ["重庆", "渝"],
    "四川省": ["四川", "川", "蜀"], "贵州省": ["贵州", "黔", "贵"], "云南省": ["云南", "滇", "云"],
    "西藏自治区": ["西藏", "藏"], "陕西省": ["陕西", "陕"], "甘肃省": ["甘肃", "甘", "陇"],
    "青海省": ["青海", "青"], "宁夏回族自治区": ["宁夏", "宁"], "新疆维吾尔自治区": ["新疆", "新"],
    "台湾省": ["台湾", "台"], "香港特别行政区": ["香港", "港"], "澳门特别行政区": ["澳门", "澳"],
}  # fmt: skip


def test_all_34_provinces_are_present(tongban):
    assert len(tongban.regions.provinces) == 34
    assert {p.name for p in tongban.regions.provinces.values()} == set(PROVINCES)


@pytest.mark.parametrize("full", sorted(PROVINCES))
def test_every_province_resolves_by_each_name(tongban, full):
    for name in [full, *PROVINCES[full]]:
        place = tongban.regions.resolve(name)
        assert place is not None and place.label == full, name
        assert place.city is None


@pytest.mark.parametrize(
    ("name", "label"),
    [
        ("深圳", "广东省深圳市"), ("深圳市", "广东省深圳市"), ("广东深圳", "广东省深圳市"),
        ("宜昌", "湖北省宜昌市"), ("武汉", "湖北省武汉市"), ("湖北省武汉市", "湖北省武汉市"),
        ("西安", "陕西省西安市"), ("成都", "四川省成都市"), ("贵阳", "贵州省贵阳市"),
        ("杭州", "浙江省杭州市"), ("南京", "江苏省南京市"), ("拉萨", "西藏自治区拉萨市"),
        ("延边", "吉林省延边朝鲜族自治州"), ("恩施", "湖北省恩施土家族苗族自治州"),
        ("锡林郭勒", "内蒙古自治区锡林郭勒盟"), ("喀什", "新疆维吾尔自治区喀什地区"),
        ("昆山", "江苏省苏州市昆山市"), ("义乌", "浙江省金华市义乌市"), ("仙桃", "湖北省仙桃市"),
        ("  深 圳 ", "广东省深圳市"), ("廣州", "广东省广州市"),
    ],
)  # fmt: skip
def test_cities_resolve_with_their_province(tongban, name, label):
    assert tongban.regions.resolve(name).label == label


def test_all_prefecture_level_cities_are_loaded(tongban):
    prefectures = [c for c in tongban.regions.cities.values() if not c.county_level]
    assert len(prefectures) >= 330
    for city in prefectures:
        assert tongban.regions.resolve(city.name).city == city


@pytest.mark.parametrize("name", ["火星", "abc", "", "   ", "12345"])
def test_unknown_places_do_not_resolve(tongban, name):
    assert tongban.regions.resolve(name) is None


@pytest.mark.parametrize(
    ("text", "home", "at"),
    [
        ("我是江西人，在深圳打工", "江西省", "广东省深圳市"),
        ("户口在湖北宜昌，现在在广州上班", "湖北省宜昌市", "广东省广州市"),
        ("四川人在杭州", "四川省", "浙江省杭州市"),
        ("老家河南的，目前在上海工作", "河南省", "上海市"),
        ("我们在成都，能办吗", None, "四川省成都市"),
        ("广东户口，人在北京", "广东省", "北京市"),
        ("从重庆迁到西安", "重庆市", "陕西省西安市"),
        ("公积金在天津交的，我在石家庄买房", "天津市", "河北省石家庄市"),
        ("户口辽宁，在青岛上班", "辽宁省", "山东省青岛市"),
        ("我爸退休在哈尔滨，现在住三亚", "黑龙江省哈尔滨市", "海南省三亚市"),
        ("社保是云南交的，人在宁波", "云南省", "浙江省宁波市"),
    ],
)
def test_places_in_text_get_their_roles(tongban, text, home, at):
    found = tongban.places_in(text)
    assert (found.home.label if found.home else None) == home
    assert (found.at.label if found.at else None) == at


@pytest.mark.parametrize("text", ["新生儿入户怎么办", "深圳人社局电话", "合作社怎么注册"])
def test_ordinary_words_are_not_places(tongban, text):
    mentions = tongban.regions.find(text)
    assert all(m.place.province.short != "新疆" for m in mentions)
    assert all(m.role is not Role.HOME for m in mentions)
    assert all("合作" not in m.surface for m in mentions)
