"""Tongban's schema migrations (Alembic): env.py, the revision template and versions/.

Run by `tongban.stores.shared.upgrade` (the stores, the cluster runner, `tongban db upgrade`);
revision scripts name their tables with `prefix()`, the deployment's TONGBAN_KEY_PREFIX.
"""

from __future__ import annotations


def prefix() -> str:
    """The key prefix of the tables being migrated (passed to env.py by `upgrade`)."""
    from alembic import op

    return op.get_context().opts["table_prefix"]
