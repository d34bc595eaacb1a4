"""Schema migrations of the controller's records store: Alembic, configured in code.

Opening a records store runs :func:`upgrade_to_head`, never ``create_all``. Revisions
live in ``versions/`` as ``r<rev>_<slug>.py`` with sequential ids (``0001``, ...);
``python -m failover.controller.migrations -m "what changed"`` writes the next one by
autogenerate (docs/controller.md, "Schema changes of the records store").

The three controllers may share one PostgreSQL database (``WATERTIGHT_RECORDS_URL``),
possibly with other applications' tables: the store's tables and its version table are
all named ``controller_*``, and autogenerate looks at no other table.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.environment import NameFilterParentNames, NameFilterType
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text

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


def include_name(name: str | None, type_: NameFilterType, _parents: NameFilterParentNames) -> bool:
    """Autogenerate's filter: of the database's tables, only the records store's own."""
    return type_ != "table" or (name or "").startswith(TABLE_PREFIX)


def upgrade_to_head(connection: Connection) -> None:
    """Bring the database behind ``connection`` to the head revision, keeping all data.

    ``connection`` must be inside a transaction, which the caller commits; on SQLite the
    caller makes it ``BEGIN IMMEDIATE`` (the write lock, so concurrent openers queue),
    on PostgreSQL this takes an advisory lock held to the end of that transaction. A
    database made by ``create_all`` before migrations existed (baseline tables, no
    version table) is stamped at :data:`BASELINE_REVISION` first; one without the
    store's tables is built from the first revision. Raises
    :class:`UnrecognisedSchemaError` for anything else without a version table.
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
            f"database {url} has records tables but no {VERSION_TABLE} table and lacks "
            f"{', '.join(missing)}: not the schema of revision {BASELINE_REVISION}; left untouched"
        )
    return True
