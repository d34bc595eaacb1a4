"""``python -m failover.controller.migrations -m "what changed"``: write the next revision.

By autogenerate: the models (:mod:`failover.controller.records`) are compared with a
scratch database upgraded to the current head: a temporary SQLite file, or ``--url``
(e.g. a throwaway PostgreSQL database, to see its types); the scratch database is left
as it was (rolled back where the backend can). Review the file it writes; ``make fmt``
formats it.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine

from failover.controller.migrations import alembic_config, upgrade_to_head


def next_revision_id() -> str:
    """The head's id plus one, four digits (``0001`` when there is no revision yet)."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    return f"{int(head) + 1 if head else 1:04d}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m failover.controller.migrations", description=__doc__
    )
    parser.add_argument("-m", "--message", required=True, help="what the revision changes")
    parser.add_argument("--rev-id", help="default: the next sequential id")
    parser.add_argument("--url", help="scratch database (default: a temporary SQLite file)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        url = args.url or f"sqlite:///{Path(scratch) / 'scratch.db'}"
        engine = create_engine(url)
        try:
            with engine.connect() as connection, connection.begin() as transaction:
                upgrade_to_head(connection)
                command.revision(
                    alembic_config(connection),
                    message=args.message,
                    autogenerate=True,
                    rev_id=args.rev_id or next_revision_id(),
                )
                transaction.rollback()
        finally:
            engine.dispose()


if __name__ == "__main__":
    main()
