"""Alembic environment of the records store; Alembic runs it, nothing imports it.

Only online mode over the connection handed in by :mod:`failover.controller.migrations`
(which holds the transaction and the locks): there is no URL to connect to here.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from failover.controller.migrations import VERSION_TABLE, include_name
from failover.controller.records import Base

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError(
        "run records migrations through failover.controller.migrations, not the alembic command"
    )
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    version_table=VERSION_TABLE,
    include_name=include_name,
    # SQLite cannot ALTER most things: batch mode copies the table inside the transaction.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    compare_server_default=True,
)
with context.begin_transaction():
    context.run_migrations()
