"""In-process fixtures: a unit app on a SQLite file, driven through Starlette's TestClient,
and empty unit databases on SQLite and (with ``WATERTIGHT_TEST_PG_URL``) PostgreSQL."""

from __future__ import annotations

import itertools
import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url
from unit_app_helpers import promote_alone, settings_for, unit_client


@pytest.fixture
def standby(tmp_path: Path) -> Iterator[TestClient]:
    with unit_client(settings_for(tmp_path)) as client:
        yield client


@pytest.fixture
def primary(tmp_path: Path) -> Iterator[TestClient]:
    with unit_client(settings_for(tmp_path)) as client:
        promote_alone(client)
        yield client


PG_URL_ENV = "WATERTIGHT_TEST_PG_URL"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def new_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], str]]:
    """Makes empty databases of this test's own (on PostgreSQL dropped at the end)."""
    if request.param == "sqlite":
        files = (tmp_path / f"unit-{n}.db" for n in itertools.count())
        yield lambda: f"sqlite:///{next(files)}"
        return
    server = os.environ.get(PG_URL_ENV)
    if not server:
        pytest.skip(f"{PG_URL_ENV} is not set")
    base = make_url(server)
    admin = base.set(drivername="postgresql").render_as_string(hide_password=False)
    made: list[str] = []

    def make() -> str:
        made.append(f"wt_unit_migrations_{secrets.token_hex(4)}")
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{made[-1]}"')
        return base.set(database=made[-1]).render_as_string(hide_password=False)

    try:
        yield make
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            for name in made:
                connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
