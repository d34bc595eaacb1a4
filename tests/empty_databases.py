"""Empty databases for a test of its own: SQLite files, or fresh PostgreSQL databases on
the server ``WATERTIGHT_TEST_PG_URL`` names (CI starts one; ``.ci/run``)."""

from __future__ import annotations

import itertools
import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

PG_URL_ENV = "WATERTIGHT_TEST_PG_URL"

#: The fixture parameters of a test that runs on both: PostgreSQL is marked ``postgres``.
KINDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@contextmanager
def empty_databases(kind: str, directory: Path, stem: str) -> Iterator[Callable[[], str]]:
    """A maker of empty databases of ``kind`` named after ``stem``; on PostgreSQL every one
    made is dropped at the end. Skips the test when PostgreSQL is asked for and
    ``WATERTIGHT_TEST_PG_URL`` is not set."""
    if kind == "sqlite":
        files = (directory / f"{stem}-{n}.db" for n in itertools.count())
        yield lambda: f"sqlite:///{next(files)}"
        return
    server = os.environ.get(PG_URL_ENV)
    if not server:
        pytest.skip(f"{PG_URL_ENV} is not set")
    base = make_url(server)
    admin = base.set(drivername="postgresql").render_as_string(hide_password=False)
    made: list[str] = []

    def make() -> str:
        made.append(f"wt_{stem}_{secrets.token_hex(4)}")
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{made[-1]}"')
        return base.set(database=made[-1]).render_as_string(hide_password=False)

    try:
        yield make
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            for name in made:
                connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
