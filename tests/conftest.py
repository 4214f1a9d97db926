"""Shared fixtures: one Tongban over the real knowledge base, and a small knowledge base to break."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import yaml

from tongban import Tongban
from tongban.settings import settings

ROOT = Path(__file__).resolve().parent.parent
# One key for the whole test run, so values signed at import (message ids, say) still verify after
# a test re-reads the settings; a test about a missing key removes it with monkeypatch.
os.environ.setdefault("TONGBAN_SECRET_KEY", "pytest-run-secret-key")
KNOWLEDGE = ROOT / "knowledge"


@pytest.fixture(autouse=True)
def fresh_settings():
    """Each test reads the settings anew from its environment (monkeypatch.setenv before the first
    use), as a process does once at start; none leaks into the next test."""
    settings.cache_clear()
    yield
    settings.cache_clear()


@pytest.fixture(scope="session")
def tongban() -> Tongban:
    return Tongban.load(KNOWLEDGE, warm=True)


@pytest.fixture()
def mini_kb(tmp_path: Path) -> Path:
    """A valid two-stage knowledge base that tests can break one key at a time."""
    root = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE / "regions", root / "regions")
    write(root / "sources/s.yaml", {"sources": [
        {"id": "src_a", "title": "甲文件", "issuer": "国务院", "ref": "国函〔2021〕1号",
         "date": "2021-04-30", "url": "https://example.gov.cn/a", "grade": "A"},
    ]})  # fmt: skip
    write(root / "documents/d.yaml", {"documents": [{"id": "id_card", "name": "居民身份证"}]})
    write(root / "channels/c.yaml", {"channels": [
        {"id": "window", "name": "办事窗口", "kind": "window", "sources": ["src_a"]},
    ]})  # fmt: skip
    write(root / "items/demo/demo_item.yaml", demo_item())
    return root


def demo_item() -> dict:
    return {
        "id": "demo_item", "name": "示例事项", "aliases": ["示例"], "category": "其他",
        "department": "示例部门", "modes": ["全程网办"], "channels": ["window"], "summary": "示例。",
        "steps": ["提交申请"], "documents": [{"doc": "id_card"}], "sources": ["src_a"],
        "valid_from": "2021-06-01", "last_verified": "2026-11-22",
        "stages": [
            {"id": "pilot", "name": "试点", "from": "2021-06-01", "until": "2023-05-31",
             "regions": ["湖北省武汉市", "广东省"], "summary": "试点。", "sources": ["src_a"]},
            {"id": "all", "name": "全国", "from": "2023-06-01", "regions": ["全国"],
             "summary": "全国。", "sources": ["src_a"]},
        ],
    }  # fmt: skip


def write(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
