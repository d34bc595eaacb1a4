"""The unit database's engine set-up on SQLite (app/database.py)."""

from __future__ import annotations

import threading
from pathlib import Path

from app.database import Database

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
        barrier = threading.Barrier(OPENERS, timeout=JOIN_TIMEOUT_SECONDS)

        def open_it(url: str = url, barrier: threading.Barrier = barrier) -> None:
            database = Database(url)
            try:
                barrier.wait()
                database.create_schema()
            except BaseException as exc:  # reported by the assertion below
                errors.append(exc)
            finally:
                database.dispose()

        threads = [threading.Thread(target=open_it, daemon=True) for _ in range(OPENERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(JOIN_TIMEOUT_SECONDS)
        assert not any(thread.is_alive() for thread in threads), "an opener is stuck"
    assert errors == []
