"""Alembic's environment for Tongban's tables: the connection (holding the advisory lock) and
the key prefix come from `tongban.stores.shared.upgrade`, never from an alembic.ini.

The prefix names the version table `<prefix>_alembic_version` and reaches the revision scripts
as `context.opts["table_prefix"]` (read it with `tongban.migrations.prefix()`).
"""

from __future__ import annotations

from alembic import context

config = context.config
connection = config.attributes.get("connection")
if context.is_offline_mode() or connection is None:
    raise RuntimeError("run migrations with `tongban db upgrade` (tongban.stores.shared.upgrade)")
table_prefix = config.attributes["prefix"]
context.configure(
    connection=connection,
    version_table=f"{table_prefix}_alembic_version",
    table_prefix=table_prefix,
)
with context.begin_transaction():
    context.run_migrations()
