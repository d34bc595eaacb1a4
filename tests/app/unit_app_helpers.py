"""Helpers for the in-process unit-service tests (a unit app on a SQLite file)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from app.lease import NoLease, PrimaryLease
from app.main import create_app
from app.settings import UnitSettings
from failover.topology import default_topology

TOKEN = "test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
TOPOLOGY = default_topology()


def customer_of(unit: str, start: int = 0) -> str:
    """The first customer id ``cust-N`` (N >= start) that hashes to ``unit``."""
    return next(
        f"cust-{i}" for i in range(start, start + 100_000) if TOPOLOGY.unit_of(f"cust-{i}") == unit
    )


def settings_for(tmp_path: Path, **overrides: Any) -> UnitSettings:
    values: dict[str, Any] = {
        "unit": "u00",
        "site": "production",
        "data_dir": tmp_path,
        "token": TOKEN,
        "role": "standby",
        "epoch": 1,
        "credit_limit_minor": 10_000,
    }
    values.update(overrides)
    return UnitSettings(**values)


def unit_client(settings: UnitSettings, lease: PrimaryLease | None = None) -> TestClient:
    return TestClient(create_app(settings, lease or NoLease()), raise_server_exceptions=False)


def promote_alone(client: TestClient, epoch: int = 2) -> None:
    """Make the instance a primary without standbys (in-process: nobody to ship to)."""
    body = {"role": "primary", "epoch": epoch, "standbys": []}
    response = client.post("/admin/role", json=body, headers=AUTH)
    assert response.status_code == 200, response.text


def purchase(amount: int = 100, **extra: Any) -> dict[str, Any]:
    return {"type": "purchase", "amount_minor": amount, "currency": "CNY", **extra}
