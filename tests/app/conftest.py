"""In-process fixtures: a unit app on a SQLite file, driven through Starlette's TestClient,
and empty unit databases on SQLite and (with ``WATERTIGHT_TEST_PG_URL``) PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from test_recent_entries import primary as started_primary
from unit_app_helpers import promote_alone, settings_for, unit_client

from app.lease import NoLease
from app.service import UnitService
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


@pytest.fixture
def primary_service(tmp_path: Path) -> Iterator[UnitService]:
    """A started primary's service without standbys and without HTTP: what a lane wraps."""
    started = started_primary(tmp_path, NoLease())
    yield started
    started.writes.stop()
    started.node.stop()
    started.db.dispose()


@pytest.fixture(params=KINDS)
def new_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], str]]:
    """Makes empty unit databases of this test's own (on PostgreSQL dropped at the end)."""
    with empty_databases(request.param, tmp_path, "unit_db") as make:
        yield make
