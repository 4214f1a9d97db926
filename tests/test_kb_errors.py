"""Broken knowledge files: each gives its own message naming the file, the item and the key."""

import pytest
import yaml

from tongban.kb.loader import KnowledgeErrors, check_knowledge, load_knowledge

from .conftest import demo_item, write


def _errors(root) -> str:
    with pytest.raises(KnowledgeErrors) as failure:
        load_knowledge(root)
    return "\n".join(str(e) for e in failure.value.errors)


def test_the_mini_knowledge_base_is_valid(mini_kb):
    kb, problems = check_knowledge(mini_kb)
    assert problems == []
    assert list(kb.items) == ["demo_item"]


def _break(mini_kb, change) -> str:
    item = demo_item()
    change(item)
    write(mini_kb / "items/demo/demo_item.yaml", item)
    return _errors(mini_kb)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda i: i.pop("name"), ["demo_item.yaml", "事项 demo_item", "字段 name", "缺少必填字段"]),
        (lambda i: i.update(sources=["nope"]), ["字段 sources", "来源“nope”不在来源目录中", "knowledge/sources/"]),
        (lambda i: i.update(documents=[{"doc": "passport"}]), ["documents[0].doc", "材料“passport”"]),
        (lambda i: i.update(channels=["app_x"]), ["字段 channels", "渠道“app_x”"]),
        (lambda i: i.update(modes=["上门办"]), ["字段 modes", "不是办理模式", "全程网办"]),
        (lambda i: i["stages"][0].update({"from": "2021-13-01"}), ["stages[0].from", "不是有效日期", "YYYY-MM-DD"]),
        (lambda i: i["stages"][0].update(until="2020-01-01"), ["stages[0].until", "早于开始日期"]),
        (lambda i: i["stages"][0].update(until="2023-06-30"), ["时间重叠", "until"]),
        (lambda i: i["stages"].reverse(), ["阶段请按开始日期先后排列"]),
        (lambda i: i["stages"][0].update(regions=["火星省"]), ["stages[0].regions", "地区“火星省”无法识别"]),
        (lambda i: i["stages"][0].pop("sources"), ["stages[0].sources", "缺少必填字段"]),
        (lambda i: i.update(colour="red"), ["字段 colour", "未知字段"]),
        (lambda i: i.update(id="Demo Item"), ["字段 id", "不是合法的 id"]),
        (lambda i: i.update(related=["ghost_item"]), ["字段 related", "相关事项“ghost_item”不存在"]),
        (lambda i: i.update(aliases="示例"), ["字段 aliases", "应为列表"]),
        (lambda i: i.update(place_rule="everywhere"), ["字段 place_rule", "at、home、both"]),
        (lambda i: i.pop("stages"), ["字段 stages"]),
    ],
)  # fmt: skip
def test_each_broken_key_has_its_own_message(mini_kb, change, expected):
    message = _break(mini_kb, change)
    for part in expected:
        assert part in message, (part, message)


def test_invalid_yaml_names_the_line(mini_kb):
    (mini_kb / "items/demo/demo_item.yaml").write_text(
        "id: demo_item\nname: [未闭合\n", encoding="utf-8"
    )
    message = _errors(mini_kb)
    assert "demo_item.yaml" in message and "YAML 格式错误" in message and "第" in message


def test_file_name_must_match_the_id(mini_kb):
    path = mini_kb / "items/demo/demo_item.yaml"
    path.rename(path.with_name("other.yaml"))
    assert "请把文件改名为 demo_item.yaml" in _errors(mini_kb)


def test_duplicate_source_ids_are_reported(mini_kb):
    data = yaml.safe_load((mini_kb / "sources/s.yaml").read_text(encoding="utf-8"))
    write(mini_kb / "sources/t.yaml", data)
    assert "id “src_a”重复" in _errors(mini_kb)


def test_bad_source_grade_and_date(mini_kb):
    data = yaml.safe_load((mini_kb / "sources/s.yaml").read_text(encoding="utf-8"))
    data["sources"][0].update(grade="E", date="去年")
    write(mini_kb / "sources/s.yaml", data)
    message = _errors(mini_kb)
    assert "sources[0].grade" in message and "sources[0].date" in message


def test_orphans_and_shared_aliases_are_reported_by_check(mini_kb):
    write(
        mini_kb / "documents/extra.yaml",
        {"documents": [{"id": "unused_doc", "name": "用不到的材料"}]},
    )
    twin = demo_item() | {"id": "twin_item", "name": "双胞胎"}
    write(mini_kb / "items/demo/twin_item.yaml", twin)
    _, problems = check_knowledge(mini_kb)
    text = "\n".join(problems)
    assert "材料“unused_doc”没有被任何事项引用" in text
    assert "说法“示例”同时属于事项" in text


def test_missing_directory(tmp_path):
    assert "知识库目录不存在" in _errors(tmp_path / "nowhere")
