"""Helpers for the unit-service integration tests: backends, a running trio, a client."""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import yaml
from sqlalchemy.engine import make_url

from failover.topology import parse_topology
from infra.local.unit_process import UnitInstanceSpec, UnitProcess, plan_unit_trio, running_units

TOKEN = "integration-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
# The default placement, with an acknowledgement timeout generous enough for a starved
# 2-core CI box: the tests assert behaviour (503 with both standbys dead is immediate).
TEST_TOPOLOGY = {
    "sites": [
        {"name": "production", "city": "city-a", "role": "active"},
        {"name": "same-city", "city": "city-a", "role": "active"},
        {"name": "remote-dr", "city": "city-b", "role": "dr"},
    ],
    "replication": {"ack_timeout_seconds": 5.0},
}


def write_topology(path: Path) -> Path:
    path.write_text(yaml.safe_dump(TEST_TOPOLOGY), encoding="utf-8")
    return path


TOPOLOGY = parse_topology(TEST_TOPOLOGY, source="<integration topology>")
UNIT = "u00"
PLACEMENT = TOPOLOGY.placement(UNIT)
PG_URL_ENV = "WATERTIGHT_TEST_PG_URL"
# Start-up is ~2 s on an idle 2-core box; this bound only stops a hopeless wait.
READY_TIMEOUT = 120.0


def customers(count: int, unit: str = UNIT) -> list[str]:
    found = [f"cust-{i}" for i in range(20_000) if TOPOLOGY.unit_of(f"cust-{i}") == unit]
    return found[:count]


def purchase(amount: int) -> dict[str, Any]:
    return {"type": "purchase", "amount_minor": amount, "currency": "CNY"}


@contextmanager
def postgres_databases(sites: tuple[str, ...]) -> Iterator[dict[str, str]]:
    """One fresh database per site on the server in WATERTIGHT_TEST_PG_URL; dropped after."""
    server = os.environ.get(PG_URL_ENV)
    if not server:
        pytest.skip(
            f"{PG_URL_ENV} is not set (e.g. postgresql+psycopg://postgres@127.0.0.1:55432/postgres)"
        )
    url = make_url(server)
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    names = {site: f"wt_{site.replace('-', '_')}_{secrets.token_hex(4)}" for site in sites}
    with psycopg.connect(admin, autocommit=True) as connection:
        for name in names.values():
            connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield {
            site: url.set(database=name).render_as_string(hide_password=False)
            for site, name in names.items()
        }
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            for name in names.values():
                connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Trio:
    """A running primary and its two standbys (same city, remote) of one unit."""

    specs: dict[str, UnitInstanceSpec]
    processes: dict[str, UnitProcess]

    @property
    def primary(self) -> UnitProcess:
        return self.processes[PLACEMENT.primary]

    @property
    def city(self) -> UnitProcess:
        return self.processes[PLACEMENT.city_standby]

    @property
    def remote(self) -> UnitProcess:
        return self.processes[PLACEMENT.remote_standby]

    def restart(self, site: str) -> UnitProcess:
        """Start ``site`` again with its original spec (its database is kept)."""
        self.processes[site].stop()
        process = UnitProcess(self.specs[site])
        self.processes[site] = process
        process.start()
        process.wait_ready(READY_TIMEOUT)
        return process


@contextmanager
def running_trio(tmp_path: Path, backend: str) -> Iterator[Trio]:
    sites = PLACEMENT.sites
    if backend == "postgres":
        with postgres_databases(sites) as urls, _trio(tmp_path, urls) as trio:
            yield trio
    else:
        with _trio(tmp_path, None) as trio:
            yield trio


@contextmanager
def _trio(tmp_path: Path, urls: dict[str, str] | None) -> Iterator[Trio]:
    topology_file = write_topology(tmp_path / "topology.yaml")
    specs = plan_unit_trio(
        TOPOLOGY, UNIT, tmp_path, token=TOKEN, database_urls=urls, topology_file=topology_file
    )
    with running_units(specs, ready_timeout=READY_TIMEOUT) as processes:
        trio = Trio(specs, processes)
        try:
            # /readyz answers before the primary's standby links have connected; a write in
            # that gap is a correct 503 (quorum not reached), not what the tests probe.
            wait_until(
                lambda: standbys_caught_up(trio.primary),
                timeout=READY_TIMEOUT,
                what="the primary's standby links to connect",
            )
            yield trio
        finally:
            for process in trio.processes.values():
                process.stop()


def unit_status(process: UnitProcess) -> dict[str, Any]:
    body: dict[str, Any] = httpx.get(f"{process.url}/v1/unit", timeout=5).json()
    return body


def digest(process: UnitProcess) -> dict[str, Any]:
    body: dict[str, Any] = httpx.get(
        f"{process.url}/replication/digest", headers=AUTH, timeout=5
    ).json()
    return body


def wait_until(predicate: Any, timeout: float = 15.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def standbys_caught_up(primary: UnitProcess, healthy_sites: tuple[str, ...] | None = None) -> bool:
    status = unit_status(primary)
    standbys = status.get("standbys", [])
    wanted = [s for s in standbys if healthy_sites is None or s["site"] in healthy_sites]
    return bool(wanted) and all(s["lag_entries"] == 0 and s["healthy"] for s in wanted)


def set_role(process: UnitProcess, **body: Any) -> httpx.Response:
    return httpx.post(f"{process.url}/admin/role", json=body, headers=AUTH, timeout=10)


def write(process: UnitProcess, customer: str, key: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(
        f"{process.url}/v1/customers/{customer}/transactions",
        json=body,
        headers={"Idempotency-Key": key},
        timeout=10,
    )
