"""In-process fixtures: a unit app on a SQLite file, driven through Starlette's TestClient."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
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
