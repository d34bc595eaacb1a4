"""``python -m app.migrations -m "what changed"``: write the next revision by autogenerate.

The models (:mod:`app.models`) are compared with a scratch database upgraded to the
current head: a temporary SQLite file, or ``--url`` (e.g. a throwaway PostgreSQL
database, to see its types); the scratch database is left as it was (rolled back where
the backend can). Review the file it writes; ``make fmt`` formats it.
"""

from __future__ import annotations

from app.migrations import MIGRATIONS


def main(argv: list[str] | None = None) -> None:
    MIGRATIONS.revision_cli("python -m app.migrations", __doc__, argv)


if __name__ == "__main__":
    main()
