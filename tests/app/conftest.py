"""In-process fixtures: a unit app on a SQLite file, driven through Starlette's TestClient,
and empty unit databases on SQLite and (with ``WATERTIGHT_TEST_PG_URL``) PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from unit_app_helpers import promote_alone, settings_for, unit_client

from tests.empty_databases import KINDS, empty_databases


@pytest.fixture
def standby(tmp_path: Path) -> Iterator[TestClient]:
    with unit_client(settings_for(tmp_path)) as client:
        yield client


@pytest.fixture
def primary(tmp_path: Path) -> Iterator[TestClient]:
    with unit_client(settings_for(tmp_path)) as client:
        promote_alone(client)
        yield client


@pytest.fixture(params=KINDS)
def new_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], str]]:
    """Makes empty unit databases of this test's own (on PostgreSQL dropped at the end)."""
    with empty_databases(request.param, tmp_path, "unit_db") as make:
        yield make
