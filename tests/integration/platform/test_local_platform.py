"""The local platform end to end: up, traffic through the router, link faults, down."""

from __future__ import annotations

import asyncio
import json
import random
import socket
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from platform_helpers import RunningPlatform, our_processes, start_platform, watertight

pytestmark = pytest.mark.integration

BODY = {"type": "purchase", "amount_minor": 100, "currency": "CNY"}


async def _post_many(router: str, customers: list[str], count: int) -> list[dict[str, Any]]:
    semaphore = asyncio.Semaphore(16)
    async with httpx.AsyncClient(base_url=router, timeout=10.0) as client:

        async def one(i: int) -> dict[str, Any]:
            customer = customers[i % len(customers)]
            async with semaphore:
                answer = await client.post(
                    f"/v1/customers/{customer}/transactions",
                    json=BODY,
                    headers={"Idempotency-Key": f"k-{uuid.uuid4().hex}"},
                )
            assert answer.status_code == 201, answer.text
            return dict(answer.json())

        return await asyncio.gather(*(one(i) for i in range(count)))


def test_thousand_transactions_through_the_router_succeed_and_read_back(
    platform: RunningPlatform,
) -> None:
    rng = random.Random(7)
    customers = [f"cust-{rng.randrange(10**9):09d}" for _ in range(200)]
    posted = asyncio.run(_post_many(platform.router_url, customers, 1000))
    assert len({p["transaction_id"] for p in posted}) == 1000
    assert {p["unit"] for p in posted} == {f"u{i:02d}" for i in range(8)}
    with httpx.Client(base_url=platform.router_url, timeout=5.0) as client:
        for p in posted:
            answer = client.get(
                f"/v1/customers/{p['customer_id']}/transactions/{p['transaction_id']}"
            )
            assert answer.status_code == 200, answer.text


def test_route_endpoint_names_bucket_unit_site_and_epoch(platform: RunningPlatform) -> None:
    answer = httpx.get(f"{platform.router_url}/v1/routes/alice", timeout=5.0).json()
    assert answer == {
        "customer_id": "alice",
        "bucket": 175,
        "unit": "u01",
        "site": "same-city",
        "epoch": 1,
    }


def test_the_witness_site_leads_both_etcd_and_the_controllers(platform: RunningPlatform) -> None:
    deadline = time.monotonic() + 15
    status = platform.status()
    while status["leader"] is None and time.monotonic() < deadline:
        time.sleep(0.5)
        status = platform.status()
    assert status["etcd_leader"] == "remote-dr"
    assert status["leader"] == "remote-dr"


def test_status_shows_every_unit_with_its_primary(platform: RunningPlatform) -> None:
    status = platform.status()
    assert set(status["routes"]) == {f"u{i:02d}" for i in range(8)}
    for unit, by_site in status["units"].items():
        primary = status["routes"][unit]["site"]
        assert by_site[primary]["role"] == "primary"
        assert sorted(by_site) == ["production", "remote-dr", "same-city"]


def _unit_info(platform: RunningPlatform, unit: str, site: str) -> dict[str, Any]:
    return dict(platform.status()["units"][unit][site])


def _wait(predicate: Any, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.3)
    return False


def test_a_city_partition_stops_no_write_and_heal_lets_the_cut_off_standby_catch_up(
    platform: RunningPlatform,
) -> None:
    # u00 is primary in production with standbys in same-city and remote-dr.
    customer = next(f"c{i}" for i in range(10_000) if _unit_of(platform, f"c{i}") == "u00")
    url = f"{platform.router_url}/v1/customers/{customer}/transactions"
    result = platform.cli("fault", "partition", "production", "same-city")
    assert result.returncode == 0, result.stderr
    try:
        answer = httpx.post(
            url, json=BODY, headers={"Idempotency-Key": f"p-{uuid.uuid4().hex}"}, timeout=15.0
        )
        assert answer.status_code == 201, answer.text  # acknowledged by remote-dr
        # Both sites still serve the router: reads from each city-A site's primaries work.
        for unit_customer in ("alice", customer):  # alice → u01 in same-city
            read = httpx.get(
                f"{platform.router_url}/v1/customers/{unit_customer}/account", timeout=5.0
            )
            assert read.status_code == 200, read.text
    finally:
        assert platform.cli("fault", "heal").returncode == 0
    primary = _unit_info(platform, "u00", "production")
    assert _wait(
        lambda: _unit_info(platform, "u00", "same-city").get("last_lsn") == primary["last_lsn"]
    ), "same-city standby of u00 did not catch up after heal"
    again = httpx.post(
        url, json=BODY, headers={"Idempotency-Key": f"h-{uuid.uuid4().hex}"}, timeout=15.0
    )
    assert again.status_code == 201, again.text


def _unit_of(platform: RunningPlatform, customer: str) -> str:
    answer = httpx.get(f"{platform.router_url}/v1/routes/{customer}", timeout=5.0)
    return str(answer.json()["unit"])


def test_faults_are_journalled_with_timestamps(platform: RunningPlatform) -> None:
    journal = (platform.state_dir / "faults.jsonl").read_text().splitlines()
    assert any('"action": "partition"' in line for line in journal)
    assert any('"action": "heal"' in line for line in journal)
    for entry in map(json.loads, journal):
        assert entry["began_at"] <= entry["at"]


def test_second_up_says_it_is_running_instead_of_starting_twins(platform: RunningPlatform) -> None:
    before = sorted(our_processes(platform.state_dir))
    result = platform.cli("up")
    assert result.returncode != 0
    assert "already running" in result.stderr
    assert sorted(our_processes(platform.state_dir)) == before


def test_unknown_site_in_fault_is_refused_with_the_known_sites(platform: RunningPlatform) -> None:
    result = platform.cli("fault", "site-down", "atlantis")
    assert result.returncode != 0
    assert "unknown site 'atlantis'" in result.stderr
    assert "production" in result.stderr


def test_every_watertight_process_logs_json_lines_naming_its_kind_and_site(
    platform: RunningPlatform,
) -> None:
    # <state>/logs/<name>.log by the supervisor's process names; etcd writes its own JSON.
    kinds: dict[str, tuple[str, str | None]] = {"router.log": ("router", None),
                                                "linkproxy.log": ("linkproxy", None),
                                                "launcher.log": ("launcher", None)}  # fmt: skip
    for site in ("production", "same-city", "remote-dr"):
        kinds |= {f"controller-{site}.log": ("controller", site),
                  f"observer-{site}.log": ("observer", site)}  # fmt: skip
        kinds |= {f"unit-u{i:02d}-{site}.log": ("unit", site) for i in range(8)}
    seen = set()
    for log in sorted((platform.state_dir / "logs").glob("*.log")):
        if log.name.startswith("etcd-"):
            continue
        process, site = kinds[log.name]
        for number, line in enumerate(log.read_text(encoding="utf-8").splitlines(), 1):
            try:
                record = json.loads(line)
            except ValueError:
                pytest.fail(f"{log.name}:{number} is not a JSON record: {line!r}")
            assert (record["process"], record["site"]) == (process, site), (log.name, record)
            assert {"ts", "level", "logger", "message"} <= record.keys(), (log.name, record)
            if process == "unit":
                assert record["unit"] == log.name.split("-")[1] and "epoch" in record, record
        seen.add(process)
    # the router logs warnings only, and a healthy one has none
    assert seen >= {"unit", "controller", "observer", "linkproxy", "launcher"}


def test_down_leaves_no_process_behind(tmp_path: Path) -> None:
    running = start_platform(tmp_path / "p")
    assert our_processes(running.state_dir)
    result = running.cli("down")
    assert result.returncode == 0, result.stderr
    assert our_processes(running.state_dir) == []
    assert list((running.state_dir / "pids").glob("*.pid")) == []


def test_down_with_nothing_running_is_a_no_op_that_says_so(tmp_path: Path) -> None:
    state_dir = tmp_path / "empty"
    for _ in range(2):
        result = watertight("down", "--state-dir", str(state_dir))
        assert result.returncode == 0, result.stderr
        assert "nothing to stop" in result.stdout
    assert not state_dir.exists()


def test_invalid_topology_starts_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("sites: []\n")
    state_dir = tmp_path / "s"
    result = watertight("up", "--topology", str(bad), "--state-dir", str(state_dir))
    assert result.returncode != 0
    assert f"{bad}: sites" in result.stderr
    assert our_processes(state_dir) == []


def test_router_port_already_taken_is_refused_before_anything_starts(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        state_dir = tmp_path / "s"
        result = watertight("up", "--router-port", str(port), "--state-dir", str(state_dir))
    assert result.returncode != 0
    assert f"router port {port} is already in use" in result.stderr
    assert our_processes(state_dir) == []


def test_missing_etcd_binary_is_named_and_leaves_no_half_started_processes(tmp_path: Path) -> None:
    state_dir = tmp_path / "s"
    result = watertight(
        "up", "--state-dir", str(state_dir), env={"WATERTIGHT_ETCD_BIN": "/nonexistent/etcd"}
    )
    assert result.returncode != 0
    assert "WATERTIGHT_ETCD_BIN=/nonexistent/etcd" in result.stderr
    assert our_processes(state_dir) == []
