"""One schema's Alembic migrations, configured in code (no alembic.ini).

Both stores of watertight — a unit's ledger (``app.migrations``) and the controller's
records (``failover.controller.migrations``) — open their database by upgrading it to
the head revision, never by ``create_all``, with the same rules; each describes its
schema once as a :class:`MigrationSet` and this module does the rest:

- revisions live in ``<script_location>/versions/`` as ``r<rev>_<slug>.py`` with
  sequential four-digit ids;
- concurrent openers queue: the caller's transaction is ``BEGIN IMMEDIATE`` on SQLite,
  and :meth:`MigrationSet.upgrade_to_head` takes a transaction-scoped advisory lock on
  PostgreSQL;
- a database made by ``create_all`` before migrations existed (the baseline tables and
  columns, no version table) is stamped at the baseline revision first; anything else
  without a version table is refused with :class:`UnrecognisedSchemaError`, untouched.

Knows nothing of either schema (a set names its own tables), so both may import it.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, create_engine, inspect, text


class UnrecognisedSchemaError(RuntimeError):
    """A database without migration history whose tables are not the baseline schema.

    Raised instead of guessing: stamping it would skip changes it lacks, and creating
    tables over it could clash with its data. Nothing was changed.
    """


@dataclass(frozen=True)
class MigrationSet:
    """The migrations of one schema.

    ``baseline_tables`` are the tables and columns ``create_all`` made before migrations
    existed (frozen: later revisions must not change them); ``pg_lock_key`` is an
    advisory-lock key unique to the schema; ``what`` names its tables in errors
    ("unit", "records").
    """

    script_location: Path
    version_table: str
    baseline_revision: str
    baseline_tables: Mapping[str, frozenset[str]]
    pg_lock_key: int
    what: str

    def alembic_config(self, connection: Connection | None = None) -> Config:
        """The Alembic configuration; the set's ``env.py`` migrates over ``connection``."""
        config = Config()
        config.set_main_option("script_location", str(self.script_location))
        config.set_main_option("file_template", "r%%(rev)s_%%(slug)s")
        config.attributes["connection"] = connection
        return config

    def head_revision(self) -> str:
        """The revision a database is at after :meth:`upgrade_to_head`."""
        head = ScriptDirectory.from_config(self.alembic_config()).get_current_head()
        if head is None:
            raise RuntimeError(f"no revisions under {self.script_location / 'versions'}")
        return head

    def next_revision_id(self) -> str:
        """The head's id plus one, four digits (``0001`` when there is no revision yet)."""
        head = ScriptDirectory.from_config(self.alembic_config()).get_current_head()
        return f"{int(head) + 1 if head else 1:04d}"

    def upgrade_to_head(self, connection: Connection) -> None:
        """Bring the database behind ``connection`` to the head revision, keeping all data.

        ``connection`` must be inside a transaction, which the caller commits (on SQLite
        a ``BEGIN IMMEDIATE`` one). Stamps an unversioned baseline first; one without any
        of the set's tables is built from the first revision. Raises
        :class:`UnrecognisedSchemaError` for anything else without a version table.
        """
        if connection.dialect.name == "postgresql":
            lock = text("SELECT pg_advisory_xact_lock(:key)")
            connection.execute(lock, {"key": self.pg_lock_key})
        config = self.alembic_config(connection)
        if self._is_unversioned_baseline(connection):
            command.stamp(config, self.baseline_revision)
        command.upgrade(config, "head")

    def write_revision(self, message: str, rev_id: str | None, url: str | None) -> None:
        """Write the next revision by autogenerate against a scratch database.

        The scratch database (a temporary SQLite file, or ``url``) is upgraded to the
        head, compared with the models, and left as it was (rolled back where the
        backend can).
        """
        with tempfile.TemporaryDirectory() as scratch:
            engine = create_engine(url or f"sqlite:///{Path(scratch) / 'scratch.db'}")
            try:
                with engine.connect() as connection, connection.begin() as transaction:
                    self.upgrade_to_head(connection)
                    command.revision(
                        self.alembic_config(connection),
                        message=message,
                        autogenerate=True,
                        rev_id=rev_id or self.next_revision_id(),
                    )
                    transaction.rollback()
            finally:
                engine.dispose()

    def revision_cli(self, prog: str, description: str | None, argv: list[str] | None) -> None:
        """``python -m <package> -m "what changed" [--rev-id] [--url]``: :meth:`write_revision`."""
        parser = argparse.ArgumentParser(prog=prog, description=description)
        parser.add_argument("-m", "--message", required=True, help="what the revision changes")
        parser.add_argument("--rev-id", help="default: the next sequential id")
        parser.add_argument("--url", help="scratch database (default: a temporary SQLite file)")
        args = parser.parse_args(argv)
        self.write_revision(args.message, args.rev_id, args.url)

    def _is_unversioned_baseline(self, connection: Connection) -> bool:
        inspector = inspect(connection)
        tables = set(inspector.get_table_names())
        if self.version_table in tables:
            return False
        ours = tables & self.baseline_tables.keys()
        if not ours:
            return False
        missing = sorted(self.baseline_tables.keys() - tables)
        for table in sorted(ours):
            columns = {column["name"] for column in inspector.get_columns(table)}
            missing += [f"{table}.{name}" for name in sorted(self.baseline_tables[table] - columns)]
        if missing:
            url = connection.engine.url.render_as_string()
            raise UnrecognisedSchemaError(
                f"database {url} has {self.what} tables but no {self.version_table} table and "
                f"lacks {', '.join(missing)}: not the schema of revision "
                f"{self.baseline_revision}; left untouched"
            )
        return True
