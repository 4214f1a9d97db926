"""One configuration, read once: tongban/settings.py."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from tongban.dates import message_as_of, server_as_of
from tongban.kb.loader import default_root
from tongban.settings import Settings, SettingsError, settings

ROOT = Path(__file__).resolve().parent.parent


def test_defaults_are_the_embedded_profile_on_loopback() -> None:
    built = Settings.from_env({"TONGBAN_SECRET_KEY": "k"})
    assert built.as_of is None
    assert built.knowledge_dir == ROOT / "knowledge"  # the tests run in the project folder
    assert built.web_dir == ROOT / "web"
    assert (built.host, built.actions_host) == ("127.0.0.1", "127.0.0.1")
    assert (built.cases_backend, built.feedback_backend, built.handoff_backend) == ("sqlite",) * 3
    assert (built.counter_backend, built.wechat_store) == ("sqlite", "memory")
    assert (built.cluster_size, built.cluster_port) == (2, 8080)


def test_every_value_is_read_from_the_environment(tmp_path: Path) -> None:
    built = Settings.from_env(
        {
            "TONGBAN_SECRET_KEY": "k",
            "TONGBAN_AS_OF": "2024-01-15",
            "TONGBAN_KNOWLEDGE": str(tmp_path / "kb"),
            "TONGBAN_WEB": str(tmp_path / "web"),
            "TONGBAN_HOST": "0.0.0.0",
            "TONGBAN_CLUSTER_SIZE": "4",
            "TONGBAN_CLUSTER_PORT": "9000",
            "TONGBAN_CASES_TIMEOUT": "1.5",
            "TONGBAN_DATABASE_URL": "postgresql://db/x",
            "TONGBAN_REDIS_URL": "redis://r:6379/0",
        }
    )
    assert built.as_of == dt.date(2024, 1, 15)
    assert (built.knowledge_dir, built.web_dir) == (tmp_path / "kb", tmp_path / "web")
    assert (built.host, built.cluster_size, built.cluster_port) == ("0.0.0.0", 4, 9000)
    assert built.cases_timeout == 1.5
    # One URL switches every backend that has a shared version.
    assert (built.cases_backend, built.feedback_backend, built.console_backend) == ("sql",) * 3
    assert (built.counter_backend, built.socketio_manager, built.wechat_store) == ("redis",) * 3


@pytest.mark.parametrize(
    ("name", "value"),
    [("TONGBAN_AS_OF", "2024-13-01"), ("TONGBAN_AS_OF", "明天"), ("TONGBAN_CLUSTER_SIZE", "two"),
     ("TONGBAN_CLUSTER_PORT", "70000"), ("TONGBAN_CASES_TIMEOUT", "-1"),
     ("TONGBAN_CASES_RETRIES", "1e9")],
)  # fmt: skip
def test_a_malformed_value_stops_the_start_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=re.escape(name)):
        Settings.from_env({"TONGBAN_SECRET_KEY": "k", name: value})


def test_the_server_date_and_a_messages_date(monkeypatch) -> None:
    assert server_as_of(Settings(b"k")) == dt.date.today()
    assert server_as_of(Settings(b"k", as_of=dt.date(2022, 3, 25))) == dt.date(2022, 3, 25)
    monkeypatch.setenv("TONGBAN_AS_OF", "2024-01-15")
    settings.cache_clear()
    assert server_as_of() == dt.date(2024, 1, 15)
    assert message_as_of({"as_of": "2021-06-01"}) == dt.date(2021, 6, 1)
    assert message_as_of({"as_of": "soon"}) == dt.date(2024, 1, 15)  # malformed: ignored


def test_settings_are_read_once_per_process(monkeypatch) -> None:
    first = settings()
    monkeypatch.setenv("TONGBAN_AS_OF", "2020-01-01")
    assert settings() is first  # a later change of the environment does not leak in


def test_the_knowledge_base_is_the_settings_one(monkeypatch, tmp_path: Path) -> None:
    assert default_root() == ROOT / "knowledge"
    monkeypatch.setenv("TONGBAN_KNOWLEDGE", str(tmp_path))
    settings.cache_clear()
    assert default_root() == tmp_path


def test_no_module_reads_the_environment_or_assumes_a_source_checkout() -> None:
    """Only settings.py reads os.environ (the cluster runner passes it on to its children)."""
    readers, checkouts = [], []
    for path in sorted((ROOT / "tongban").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        name = str(path.relative_to(ROOT))
        if re.search(r"os\.environ\.get|os\.getenv|os\.environ\[", text) and not name.endswith(
            "settings.py"
        ):
            readers.append(name)
        if "Path(__file__)" in text:
            checkouts.append(name)
    assert readers == [] and checkouts == []
