"""Schema migrations of the unit database: Alembic, configured in code (no alembic.ini).

Opening a unit database runs :func:`upgrade_to_head`, never ``create_all``. Revisions live
in ``versions/`` as ``r<rev>_<slug>.py`` with sequential ids (``0001``, ``0002``, ...);
``python -m app.migrations -m "what changed"`` writes the next one by autogenerate
(docs/unit-service.md, "Schema changes").
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text

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


class UnrecognisedSchemaError(RuntimeError):
    """A database without migration history whose tables are not the baseline schema.

    Raised instead of guessing: stamping it would skip changes it lacks, and creating
    tables over it could clash with its data. Nothing was changed.
    """


def alembic_config(connection: Connection | None = None) -> Config:
    """The Alembic configuration; ``env.py`` migrates over ``connection``."""
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    config.set_main_option("file_template", "r%%(rev)s_%%(slug)s")
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The revision a database is at after :func:`upgrade_to_head`."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no revisions under {SCRIPT_LOCATION / 'versions'}")
    return head


def upgrade_to_head(connection: Connection) -> None:
    """Bring the database behind ``connection`` to the head revision, keeping all data.

    ``connection`` must be inside a transaction, which the caller commits; on SQLite the
    caller makes it ``BEGIN IMMEDIATE`` (the write lock, so concurrent openers queue),
    on PostgreSQL this takes an advisory lock held to the end of that transaction. A
    database made by ``create_all`` before migrations existed (baseline tables, no
    version table) is stamped at :data:`BASELINE_REVISION` first; an empty one is built
    from the first revision. Raises :class:`UnrecognisedSchemaError` for anything else
    without a version table.
    """
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_LOCK_KEY})
    config = alembic_config(connection)
    if _is_unversioned_baseline(connection):
        command.stamp(config, BASELINE_REVISION)
    command.upgrade(config, "head")


def _is_unversioned_baseline(connection: Connection) -> bool:
    inspector = inspect(connection)
    tables = set(inspector.get_table_names())
    if VERSION_TABLE in tables:
        return False
    ours = tables & BASELINE_TABLES.keys()
    if not ours:
        return False
    missing = sorted(BASELINE_TABLES.keys() - tables)
    for table in sorted(ours):
        columns = {column["name"] for column in inspector.get_columns(table)}
        missing += [f"{table}.{name}" for name in sorted(BASELINE_TABLES[table] - columns)]
    if missing:
        url = connection.engine.url.render_as_string()
        raise UnrecognisedSchemaError(
            f"database {url} has unit tables but no {VERSION_TABLE} table and lacks "
            f"{', '.join(missing)}: not the schema of revision {BASELINE_REVISION}; left untouched"
        )
    return True
