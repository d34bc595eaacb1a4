"""Schema migrations of the controller's records store: Alembic, configured in code.

Opening a records store runs :func:`upgrade_to_head`, never ``create_all``. Revisions
live in ``versions/`` as ``r<rev>_<slug>.py`` with sequential ids (``0001``, ...);
``python -m failover.controller.migrations -m "what changed"`` writes the next one by
autogenerate (docs/controller.md, "Schema changes of the records store").

The three controllers may share one PostgreSQL database (``WATERTIGHT_RECORDS_URL``),
possibly with other applications' tables: the store's tables and its version table are
all named ``controller_*``, and autogenerate looks at no other table. The rules are
:mod:`failover.schema_migrations`'s, shared with the unit database.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from alembic.config import Config
from alembic.runtime.environment import NameFilterParentNames, NameFilterType
from sqlalchemy import Connection

from failover.schema_migrations import MigrationSet, UnrecognisedSchemaError

SCRIPT_LOCATION = Path(__file__).resolve().parent
TABLE_PREFIX = "controller_"
VERSION_TABLE = "controller_alembic_version"
# The revision equal to what ``Base.metadata.create_all`` made before migrations existed.
BASELINE_REVISION = "0001"
# Tables and columns of that schema (frozen: later revisions must not change this).
BASELINE_TABLES: Mapping[str, frozenset[str]] = {
    "controller_events": frozenset(
        {"id", "at", "controller", "kind", "unit", "site", "summary", "data"}
    ),
}
# Key of the transaction-scoped PostgreSQL advisory lock that serializes upgrades of one
# database (any constant unique to this schema: "wt-recs" in ASCII).
PG_LOCK_KEY = 0x77742D72656373


MIGRATIONS = MigrationSet(
    script_location=SCRIPT_LOCATION,
    version_table=VERSION_TABLE,
    baseline_revision=BASELINE_REVISION,
    baseline_tables=BASELINE_TABLES,
    pg_lock_key=PG_LOCK_KEY,
    what="records",
)

__all__ = [
    "BASELINE_REVISION",
    "BASELINE_TABLES",
    "MIGRATIONS",
    "TABLE_PREFIX",
    "VERSION_TABLE",
    "UnrecognisedSchemaError",
    "alembic_config",
    "head_revision",
    "include_name",
    "upgrade_to_head",
]


def alembic_config(connection: Connection | None = None) -> Config:
    """The Alembic configuration; ``env.py`` migrates over ``connection``."""
    return MIGRATIONS.alembic_config(connection)


def head_revision() -> str:
    """The revision a database is at after :func:`upgrade_to_head`."""
    return MIGRATIONS.head_revision()


def include_name(name: str | None, type_: NameFilterType, _parents: NameFilterParentNames) -> bool:
    """Autogenerate's filter: of the database's tables, only the records store's own."""
    return type_ != "table" or (name or "").startswith(TABLE_PREFIX)


def upgrade_to_head(connection: Connection) -> None:
    """Bring a records store to the head revision, keeping all data.

    See :meth:`failover.schema_migrations.MigrationSet.upgrade_to_head`: the caller holds
    the transaction (``BEGIN IMMEDIATE`` on SQLite) and commits it.
    """
    MIGRATIONS.upgrade_to_head(connection)
