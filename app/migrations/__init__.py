"""Schema migrations of the unit database: Alembic, configured in code (no alembic.ini).

Opening a unit database runs :func:`upgrade_to_head`, never ``create_all``. Revisions live
in ``versions/`` as ``r<rev>_<slug>.py`` with sequential ids (``0001``, ``0002``, ...);
``python -m app.migrations -m "what changed"`` writes the next one by autogenerate
(docs/unit-service.md, "Schema changes"). The rules are
:mod:`failover.schema_migrations`'s, shared with the controller's records store.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from alembic.config import Config
from sqlalchemy import Connection

from failover.schema_migrations import MigrationSet, UnrecognisedSchemaError

SCRIPT_LOCATION = Path(__file__).resolve().parent
VERSION_TABLE = "alembic_version"
# The revision equal to what ``Base.metadata.create_all`` made before migrations existed.
BASELINE_REVISION = "0001"
# Tables and columns of that schema (frozen: later revisions must not change this).
BASELINE_TABLES: Mapping[str, frozenset[str]] = {
    table: frozenset(columns.split())
    for table, columns in {
        "accounts": "customer_id credit_limit_minor available_credit_minor opened_lsn",
        "transactions": "transaction_id customer_id type amount_minor currency merchant "
        "status epoch lsn",
        "idempotency_keys": "key request_hash response lsn",
        "journal": "lsn epoch idempotency_key request_hash payload response",
        "node_state": "id role epoch primary_site standbys acks_required updated_at",
        "discarded_entries": "id lsn epoch idempotency_key request_hash payload response "
        "discarded_at discarded_for_epoch reason",
    }.items()
}
# Key of the transaction-scoped PostgreSQL advisory lock that serializes upgrades of one
# database (any constant unique to this schema: "wt-unit" in ASCII).
PG_LOCK_KEY = 0x77742D756E6974


MIGRATIONS = MigrationSet(
    script_location=SCRIPT_LOCATION,
    version_table=VERSION_TABLE,
    baseline_revision=BASELINE_REVISION,
    baseline_tables=BASELINE_TABLES,
    pg_lock_key=PG_LOCK_KEY,
    what="unit",
)

__all__ = [
    "BASELINE_REVISION",
    "BASELINE_TABLES",
    "MIGRATIONS",
    "VERSION_TABLE",
    "UnrecognisedSchemaError",
    "alembic_config",
    "head_revision",
    "upgrade_to_head",
]


def alembic_config(connection: Connection | None = None) -> Config:
    """The Alembic configuration; ``env.py`` migrates over ``connection``."""
    return MIGRATIONS.alembic_config(connection)


def head_revision() -> str:
    """The revision a database is at after :func:`upgrade_to_head`."""
    return MIGRATIONS.head_revision()


def upgrade_to_head(connection: Connection) -> None:
    """Bring a unit database to the head revision, keeping all data.

    See :meth:`failover.schema_migrations.MigrationSet.upgrade_to_head`: the caller holds
    the transaction (``BEGIN IMMEDIATE`` on SQLite) and commits it.
    """
    MIGRATIONS.upgrade_to_head(connection)
