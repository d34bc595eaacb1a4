"""The unit database's engine set-up on SQLite (app/database.py)."""

from __future__ import annotations

from pathlib import Path

from app.database import Database
from tests.racing import at_once

OPENERS = 4
# One round of four openers on a fresh file lost the WAL-conversion race about once in
# twelve before the fix; a hundred rounds make a regression all but certain to show.
ROUNDS = 100
JOIN_TIMEOUT_SECONDS = 30.0


def test_openers_racing_on_fresh_sqlite_files_never_see_database_is_locked(
    tmp_path: Path,
) -> None:
    errors: list[BaseException] = []
    for round_number in range(ROUNDS):
        url = f"sqlite:///{tmp_path / f'unit-{round_number}.db'}"

        def open_it(url: str = url) -> None:
            database = Database(url)
            try:
                database.create_schema()
            finally:
                database.dispose()

        errors += at_once(open_it, OPENERS, JOIN_TIMEOUT_SECONDS)
    assert errors == []
