"""The `tongban` command: answers for hotline staff, one-line errors with exit code 2."""

from __future__ import annotations

import json

import pytest

from tongban.cli import main


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_ask_with_explicit_places_and_date(capsys):
    code, out, _ = run(
        capsys, "ask", "能领结婚证吗", "--home", "江西", "--at", "武汉", "--as-of", "2022-03-25"
    )
    assert code == 0
    assert out.startswith("可以") and "来源" in out


def test_ask_json(capsys):
    code, out, _ = run(capsys, "ask", "宜昌能领结婚证吗", "--as-of", "2022-03-25", "--json")
    data = json.loads(out)
    assert code == 0 and data["meta"]["item"] == "marriage_registration"
    assert data["meta"]["eligibility"] == "no" and data["version"] == 1
    assert data["meta"]["at"] == "湖北省宜昌市" and data["sources"][0]["date"]
    assert data["lead"].startswith("不可以")


def test_as_of_environment(capsys, monkeypatch):
    monkeypatch.setenv("TONGBAN_AS_OF", "2024-01-15")
    _, out, _ = run(capsys, "ask", "贵阳能领结婚证吗", "--json")
    assert json.loads(out)["meta"]["eligibility"] == "no"


def test_item_and_search(capsys):
    code, out, _ = run(capsys, "item", "divorce_registration", "--as-of", "2026-11-22")
    assert code == 0 and "离婚登记" in out and "【所需材料】" in out and "【来源】" in out
    code, out, _ = run(capsys, "search", "换驾照")
    assert code == 0 and out.splitlines()[0].split()[1] == "driving_licence_renewal"


def test_kb_check_is_clean(capsys):
    code, out, err = run(capsys, "kb", "check")
    assert code == 0, err
    assert "知识库检查通过" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["ask", "结婚", "--as-of", "2022-02-30"], "日期"),
        (["ask", "结婚", "--at", "火星"], "没有找到地名"),
        (["item", "no_such_item"], "没有编号为"),
        (["frobnicate"], "参数有误"),
        (["ask"], "参数有误"),
        (["ask", "结婚", "--kind", "weather"], "参数有误"),
        (["kb"], "kb check"),
    ],
)
def test_bad_arguments_give_one_line_and_exit_2(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err + out


def test_broken_knowledge_gives_one_line(capsys, monkeypatch, mini_kb):
    (mini_kb / "items/demo/demo_item.yaml").write_text("id: demo_item\n", encoding="utf-8")
    monkeypatch.setenv("TONGBAN_KNOWLEDGE", str(mini_kb))
    code, _, err = run(capsys, "ask", "示例")
    assert code == 2 and "知识库有误" in err and len(err.strip().splitlines()) == 1
    code, _, err = run(capsys, "kb", "check")
    assert code == 2 and "demo_item.yaml" in err


def test_not_covered_cases_are_refused(capsys):
    _, out, _ = run(capsys, "ask", "子女投靠父母能跨省迁户口吗")
    assert out.startswith("不可以") and "子女投靠父母" in out


def test_db_commands_need_the_shared_database(capsys, monkeypatch):
    monkeypatch.delenv("TONGBAN_DATABASE_URL", raising=False)
    code, _, err = run(capsys, "db", "current")
    assert code == 2 and "TONGBAN_DATABASE_URL" in err and "Traceback" not in err
    code, _, err = run(capsys, "db")
    assert code == 2 and "tongban db upgrade" in err
