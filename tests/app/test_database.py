"""The unit database (app/database.py): engine set-up on SQLite, and the driver-level
transactions of the hot path on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from app.database import Database
from app.rows import Sql
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


# --- the driver-level transactions of the hot path (Database.append, Database.query) -------

OPEN_ACCOUNT = Sql(
    "INSERT INTO accounts (customer_id, credit_limit_minor, available_credit_minor, opened_lsn)"
    " VALUES (?, 100, 100, 1)"
)
COUNT_ACCOUNTS = Sql("SELECT count(*) FROM accounts")


class RefusedError(Exception):
    pass


@pytest.fixture
def database(new_database: Callable[[], str]) -> Iterator[Database]:
    db = Database(new_database())
    db.create_schema()
    yield db
    db.dispose()


def accounts(db: Database) -> int:
    with db.query() as rows:
        row = rows.first(COUNT_ACCOUNTS)
    assert row is not None
    return int(row[0])


def test_an_append_that_returns_commits_and_is_counted(database: Database) -> None:
    with database.append() as rows:
        rows.run(OPEN_ACCOUNT, ("c1",))
    assert accounts(database) == 1
    assert database.writes_finished == 1


def test_an_append_that_raises_leaves_nothing_behind_and_the_next_one_still_commits(
    database: Database,
) -> None:
    with pytest.raises(RefusedError), database.append() as rows:
        rows.run(OPEN_ACCOUNT, ("c1",))
        raise RefusedError
    assert accounts(database) == 0
    assert database.writes_finished == 1
    with database.append() as rows:
        rows.run(OPEN_ACCOUNT, ("c2",))
    assert accounts(database) == 1


def test_a_failed_statement_rolls_back_the_whole_append(database: Database) -> None:
    with database.append() as rows:
        rows.run(OPEN_ACCOUNT, ("c1",))
    with pytest.raises(Exception, match=r"(?i)unique|duplicate"), database.append() as rows:
        rows.run(OPEN_ACCOUNT, ("c2",))
        rows.run(OPEN_ACCOUNT, ("c1",))
    assert accounts(database) == 1


def test_appends_after_a_kept_connection_see_every_commit(database: Database) -> None:
    for n in range(5):
        with database.append() as rows:
            rows.run(OPEN_ACCOUNT, (f"c{n}",))
            assert rows.first(COUNT_ACCOUNTS) == (n + 1,)
    assert accounts(database) == 5


def test_a_query_sees_a_commit_made_during_it_exactly_as_a_read_session_does(
    database: Database,
) -> None:
    # One snapshot on SQLite, read committed on PostgreSQL: a query must not be weaker
    # (or stronger) than the session it replaces on the hot path.
    seen: dict[str, tuple[int, int]] = {}
    with database.query() as rows:
        before = rows.first(COUNT_ACCOUNTS)
        with database.append() as writer:
            writer.run(OPEN_ACCOUNT, ("c1",))
        after = rows.first(COUNT_ACCOUNTS)
        assert before is not None and after is not None
        seen["query"] = (int(before[0]), int(after[0]))
    with database.read() as session:
        before_n = session.execute(text("SELECT count(*) FROM accounts")).scalar_one()
        with database.append() as writer:
            writer.run(OPEN_ACCOUNT, ("c2",))
        after_n = session.execute(text("SELECT count(*) FROM accounts")).scalar_one()
        seen["session"] = (before_n - 1, after_n - 1)
    assert seen["query"] == seen["session"]
    assert accounts(database) == 2
