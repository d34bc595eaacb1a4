"""`up` → `down` → `up` on one state directory restarts the platform recorded there: same
data, same addresses (docs/architecture.md, "Restarting: down, then up"). `down` with
nothing to stop is a no-op."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from platform_helpers import RunningPlatform, our_processes, start_platform, watertight

pytestmark = pytest.mark.integration

BODY = {"type": "purchase", "amount_minor": 4200, "currency": "CNY"}
WRITE_TIMEOUT_SECONDS = 90.0
"""After a restart every unit comes back as a standby and the controller re-promotes it
once its old lease key has expired (docs/controller.md, re-promotion in place)."""


@contextmanager
def always_down(state_dir: Path) -> Iterator[None]:
    """Whatever happens inside, nothing of this platform is left running afterwards (and
    a failure inside is reported as itself, not as a leftover)."""
    try:
        yield
    finally:
        watertight("down", "--state-dir", str(state_dir))
    assert our_processes(state_dir) == [], "processes left behind after down"


def _write(router_url: str, customer: str) -> dict[str, Any]:
    """One purchase through the router, retried (same key) until it is acknowledged."""
    key = f"restart-{uuid.uuid4().hex}"
    deadline = time.monotonic() + WRITE_TIMEOUT_SECONDS
    last = "no answer"
    with httpx.Client(base_url=router_url, timeout=10.0) as client:
        while time.monotonic() < deadline:
            try:
                answer = client.post(
                    f"/v1/customers/{customer}/transactions",
                    json=BODY,
                    headers={"Idempotency-Key": key},
                )
                if answer.status_code == 201:
                    return dict(answer.json())
                last = f"{answer.status_code} {answer.text}"
            except httpx.HTTPError as exc:
                last = repr(exc)
            time.sleep(0.5)
    raise AssertionError(f"no write acknowledged in {WRITE_TIMEOUT_SECONDS:g} s: {last}")


def _read(router_url: str, transaction: dict[str, Any]) -> httpx.Response:
    path = (
        f"/v1/customers/{transaction['customer_id']}/transactions/{transaction['transaction_id']}"
    )
    return httpx.get(f"{router_url}{path}", timeout=10.0)


def _customer_of(router_url: str, unit: str) -> str:
    for i in range(10_000):
        answer = httpx.get(f"{router_url}/v1/routes/restart-{i}", timeout=5.0).json()
        if answer["unit"] == unit:
            return f"restart-{i}"
    raise AssertionError(f"no customer of {unit} among 10 000")


def _route_site(platform: RunningPlatform, unit: str) -> str:
    return str(platform.status()["routes"][unit]["site"])


def _wait_route(platform: RunningPlatform, unit: str, site: str) -> None:
    deadline = time.monotonic() + 30
    while _route_site(platform, unit) != site:
        assert time.monotonic() < deadline, f"{unit} never routed to {site}"
        time.sleep(0.5)


def _every_process_alive(platform: RunningPlatform) -> dict[str, Any]:
    status = platform.status()
    dead = sorted(name for name, p in status["processes"].items() if not p["alive"])
    assert dead == [], f"dead after the restart: {dead}"
    for site, counts in status["sites"].items():
        assert counts["alive"] == counts["processes"] > 0, site
    return status


def test_up_down_up_restarts_the_same_platform_with_its_acknowledged_transactions(
    tmp_path: Path,
) -> None:
    state_dir = tmp_path / "p"
    with always_down(state_dir):
        first = start_platform(state_dir)
        # A unit moved during the first run must stay where it moved: the record still
        # names its first primary, which must not come back as one.
        moved = first.cli("switchover", "--unit", "u00", "--to", "same-city")
        assert moved.returncode == 0, moved.stderr
        _wait_route(first, "u00", "same-city")
        customer = _customer_of(first.router_url, "u00")
        written = _write(first.router_url, customer)
        assert written["site"] == "same-city"
        assert first.cli("down").returncode == 0
        assert our_processes(state_dir) == []

        again = watertight("up", "--json", "--state-dir", str(state_dir))
        assert again.returncode == 0, again.stderr
        assert f"restarting the platform recorded in {state_dir.resolve()}" in again.stderr
        second = RunningPlatform(state_dir, json.loads(again.stdout))
        assert second.info["restarted"] is True
        assert second.router_url == first.router_url
        assert second.info["etcd_client_urls"] == first.info["etcd_client_urls"]

        status = _every_process_alive(second)
        assert set(status["routes"]) == {f"u{i:02d}" for i in range(8)}
        assert status["routes"]["u00"]["site"] == "same-city"
        assert status["units"]["u00"]["production"]["role"] != "primary"
        read = _read(second.router_url, written)
        assert read.status_code == 200, read.text
        assert read.json()["amount_minor"] == BODY["amount_minor"]
        later = _write(second.router_url, customer)
        assert later["site"] == "same-city"
        assert _read(second.router_url, later).status_code == 200

        stopped = second.cli("down")
        assert stopped.returncode == 0, stopped.stderr
        assert our_processes(state_dir) == []
    again_down = watertight("down", "--state-dir", str(state_dir))
    assert again_down.returncode == 0, again_down.stderr
    assert "nothing to stop" in again_down.stdout


def test_down_with_no_platform_is_a_no_op_that_says_there_was_nothing_to_stop(
    tmp_path: Path,
) -> None:
    missing = tmp_path / "never-used"
    empty = tmp_path / "empty"
    empty.mkdir()
    for state_dir in (missing, empty, empty):
        result = watertight("down", "--state-dir", str(state_dir))
        assert result.returncode == 0, result.stderr
        assert "nothing to stop" in result.stdout
    assert not missing.exists()
    assert list(empty.iterdir()) == []
