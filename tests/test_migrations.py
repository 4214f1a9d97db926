"""The schema migrations shipped in the package (tongban/migrations), without a database: one line
of revisions from the baseline, and a new revision made from the template joins it.

Running them on PostgreSQL is tested in tests/cluster/test_backends.py."""

from __future__ import annotations

import shutil
from importlib import resources

from alembic import command
from alembic.script import ScriptDirectory

from tongban.stores import shared


def test_the_packaged_revisions_are_one_line_from_the_baseline():
    script = ScriptDirectory.from_config(shared.alembic_config())
    assert len(script.get_heads()) == 1 and script.get_base() == "0001"
    assert (resources.files("tongban.migrations") / "script.py.mako").is_file()


def test_a_new_revision_follows_the_head(tmp_path):
    shutil.copytree(str(resources.files("tongban.migrations")), tmp_path / "migrations")
    config = shared.alembic_config()
    config.set_main_option("script_location", str(tmp_path / "migrations"))
    head = ScriptDirectory.from_config(config).get_current_head()
    command.revision(config, "add a column", rev_id="9999")
    script = ScriptDirectory.from_config(config)
    assert script.get_current_head() == "9999"
    assert script.get_revision("9999").down_revision == head
    made = (tmp_path / "migrations/versions/9999_add_a_column.py").read_text()
    assert 'down_revision = "' in made and "from tongban.migrations import prefix" in made
