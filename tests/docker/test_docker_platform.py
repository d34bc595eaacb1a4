"""The docker platform: the chart's rendered workloads as containers, through the CLI.

One platform for the module (``watertight up --platform docker --wan-gateways``): every
rendered pod runs and is ready, a write through one site's router is read back through
another's, a WAN cut between two sites cuts exactly them, a crashed unit instance comes
back by the engine's restart policy, a gray unit declines its writes until ``heal``, the
WAN has its distance and ``slow`` adds to it, and ``down`` leaves no container, network,
volume, firewall rule or redirect of its own. The refusals (no
engine, no image, a platform already running, a start that fails half-way) leave nothing
behind either.

Needs a Docker engine: skipped with a reason where none answers (CI starts one in
``.ci/run``, where a skip is a failure).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from failover.topology import load_topology
from infra.docker.containers import LABEL
from infra.docker.engine import DockerEngine
from infra.docker.platform import DEFAULT_IMAGE, DockerPlatform, platform_id
from infra.docker.readiness import is_ready
from infra.docker.state import ContainerRecord, DockerPlatformError, DockerState
from infra.docker.wan_filter import WanFilter, WanRedirects
from infra.docker_image import engine_answers, ensure_image

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(1800)]

REPO = Path(__file__).resolve().parents[2]
TOPOLOGY = load_topology(REPO / "topology.yaml")
BODY = {"type": "purchase", "amount_minor": 1, "currency": "CNY"}


def watertight(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "watertight", *args], capture_output=True, text=True,
        timeout=1500, check=False, cwd=REPO, env={**os.environ, **(env or {})},
    )  # fmt: skip


def left_behind(state_dir: Path) -> dict[str, list[str]]:
    """Every container, network and volume of the platform of ``state_dir``, its firewall
    cuts and its redirects through the WAN gateways."""
    engine, label = DockerEngine(), f"{LABEL}={platform_id(state_dir)}"
    found = {what: engine.listed(what, label) for what in ("container", "network", "volume")}
    found["firewall"] = [f"{s}->{d}" for s, d in WanFilter(platform_id(state_dir)).cuts()]
    found["redirects"] = WanRedirects(platform_id(state_dir)).chains()
    return found


NOTHING: dict[str, list[str]] = {
    "container": [],
    "network": [],
    "volume": [],
    "firewall": [],
    "redirects": [],
}


@pytest.fixture(scope="module")
def image() -> str:
    if not engine_answers():
        pytest.skip("no Docker engine answers `docker version` (install docker.io, start dockerd)")
    return ensure_image(DEFAULT_IMAGE)


@pytest.fixture(scope="module")
def platform(image: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    state_dir = tmp_path_factory.mktemp("docker-platform")
    started = watertight("up", "--platform", "docker", "--wan-gateways", "--image", image,
                         "--json", "--state-dir", str(state_dir))  # fmt: skip
    assert started.returncode == 0, started.stderr[-3000:]
    try:
        yield {**json.loads(started.stdout), "dir": state_dir}
    finally:
        watertight("down", "--state-dir", str(state_dir))


def status(platform: dict[str, Any]) -> dict[str, Any]:
    done = watertight("status", "--json", "--state-dir", str(platform["dir"]))
    assert done.returncode == 0, done.stderr[-2000:]
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def test_every_site_runs_each_rendered_pod_and_every_one_is_ready(platform: dict[str, Any]) -> None:
    containers = status(platform)["containers"]
    assert all(c["state"] == "running" and c["ready"] for c in containers), [
        (c["name"], c["state"], c["ready"]) for c in containers if not c["ready"]
    ]
    for site in TOPOLOGY.site_names:
        kinds = Counter(c["component"] for c in containers if c["site"] == site)
        assert kinds["controller"] == kinds["observer"] == kinds["etcd"] == 1, kinds
        assert kinds["router"] >= 1 and kinds["unit"] == len(TOPOLOGY.units), kinds


def test_a_write_through_one_sites_router_is_read_back_through_another_sites(
    platform: dict[str, Any],
) -> None:
    routers = platform["router_urls"]
    posted = httpx.post(
        f"{routers['production']}/v1/customers/docker-{uuid.uuid4().hex[:8]}/transactions",
        json=BODY, headers={"Idempotency-Key": uuid.uuid4().hex}, timeout=30.0,
    )  # fmt: skip
    assert posted.status_code == 201, posted.text
    answer = posted.json()
    read = httpx.get(
        f"{routers['remote-dr']}/v1/customers/{answer['customer_id']}/transactions/"
        f"{answer['transaction_id']}",
        timeout=30.0,
    )
    assert read.status_code == 200, read.text
    assert read.json()["transaction_id"] == answer["transaction_id"]


def test_every_unit_has_a_route_to_its_placements_site(platform: dict[str, Any]) -> None:
    routes = status(platform)["routes"]
    assert {u: r["site"] for u, r in routes.items()} == {
        u: TOPOLOGY.placement(u).primary for u in TOPOLOGY.units
    }


def router_container(platform: dict[str, Any], site: str) -> str:
    return next(
        str(c["name"]) for c in status(platform)["containers"]
        if c["site"] == site and c["component"] == "router"
    )  # fmt: skip


def wan_reach(platform: dict[str, Any], source: str, target: str) -> bool:
    """Whether ``source``'s router container gets an answer from ``target``'s etcd member
    across the WAN within 2 s (a request, not just a connection: a WAN gateway accepts a
    connection it may then be unable to forward)."""
    engine, container = DockerEngine(), router_container(platform, source)
    probe = (
        "import urllib.request\n"
        f"urllib.request.urlopen('http://watertight-etcd.{target}.wan:2379/version', timeout=2)"
    )
    return engine.exec(container, ["python", "-c", probe], timeout=10) == 0


def test_a_partition_cuts_exactly_the_two_sites_and_heal_restores_them(
    platform: dict[str, Any],
) -> None:
    state = ["--state-dir", str(platform["dir"])]
    cut = watertight("fault", "partition", "production", "same-city", *state)
    assert cut.returncode == 0, cut.stderr
    try:
        assert not wan_reach(platform, "production", "same-city")
        assert not wan_reach(platform, "same-city", "production")
        assert wan_reach(platform, "production", "remote-dr")
        assert wan_reach(platform, "same-city", "remote-dr")
    finally:
        healed = watertight("fault", "heal", *state)
    assert healed.returncode == 0, healed.stderr
    assert wan_reach(platform, "production", "same-city")


def test_down_leaves_no_container_network_volume_or_firewall_rule(
    image: str, tmp_path: Path
) -> None:
    state = ["--state-dir", str(tmp_path)]
    started = watertight("up", "--platform", "docker", "--wan-gateways", "--image", image, *state)
    assert started.returncode == 0, started.stderr[-3000:]
    assert watertight("fault", "partition", "production", "remote-dr", *state).returncode == 0
    assert left_behind(tmp_path)["container"] and left_behind(tmp_path)["redirects"]
    done = watertight("down", "--platform", "docker", *state)
    assert done.returncode == 0, done.stderr
    assert left_behind(tmp_path) == NOTHING


def test_without_an_engine_up_says_so_and_creates_nothing(tmp_path: Path) -> None:
    done = watertight(
        "up", "--platform", "docker", "--state-dir", str(tmp_path),
        env={"DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock"},
    )  # fmt: skip
    assert done.returncode == 1
    assert "no Docker engine answers" in done.stderr and "nothing was started" in done.stderr
    assert not (tmp_path / "docker-platform.json").exists()


def test_a_missing_image_without_build_is_named_and_nothing_is_created(
    image: str, tmp_path: Path
) -> None:
    done = watertight("up", "--platform", "docker", "--image", "watertight:absent", "--no-build",
                      "--state-dir", str(tmp_path))  # fmt: skip
    assert done.returncode == 1
    assert "image watertight:absent is not in the engine" in done.stderr
    assert left_behind(tmp_path) == NOTHING


def test_a_second_up_in_the_same_state_dir_is_refused_and_the_first_keeps_running(
    platform: dict[str, Any],
) -> None:
    again = watertight("up", "--platform", "docker", "--state-dir", str(platform["dir"]))
    assert again.returncode == 1
    assert "already running" in again.stderr
    assert all(c["ready"] for c in status(platform)["containers"])


def test_a_start_that_fails_half_way_removes_everything_it_created(
    image: str, tmp_path: Path
) -> None:
    with pytest.raises(DockerPlatformError, match="not ready after 1 s") as failed:
        DockerPlatform(tmp_path).up(REPO / "topology.yaml", image, ready_within=1.0)
    assert "everything this start created is removed" in str(failed.value)
    assert left_behind(tmp_path) == NOTHING


def unit_record(platform: dict[str, Any], unit: str, site: str) -> ContainerRecord:
    """The platform's record of ``unit``'s instance in ``site`` (read from the state dir:
    a whole ``watertight status`` probes all 39 containers, seconds each time in CI)."""
    return next(
        r for r in DockerState.load(platform["dir"]).containers.values()
        if r.site == site and r.component == "unit" and r.unit == unit
    )  # fmt: skip


def ready(record: ContainerRecord) -> bool:
    with httpx.Client() as client:
        return is_ready(DockerEngine(), client, record)


def test_a_crashed_unit_instance_is_restarted_by_the_engine_and_ready_again(
    platform: dict[str, Any],
) -> None:
    unit = TOPOLOGY.units[0]
    standby = TOPOLOGY.placement(unit).standbys[0]
    record, engine = unit_record(platform, unit, standby), DockerEngine()
    name = record.name
    restarts = int(engine.inspect(name)["RestartCount"])  # type: ignore[call-overload]
    crashed = watertight("fault", "unit-crash", unit, "--site", standby,
                         "--state-dir", str(platform["dir"]))  # fmt: skip
    assert crashed.returncode == 0, crashed.stderr
    assert f"crashed {unit} in {standby}" in crashed.stdout
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if int(engine.inspect(name)["RestartCount"]) > restarts and ready(record):  # type: ignore[call-overload]
            return
        time.sleep(1)
    pytest.fail(f"{name} was not restarted and ready within 120 s: {engine.logs(name)}")


def customer_of(unit: str) -> str:
    return next(c for c in (f"gray-{i:05d}" for i in range(10_000)) if TOPOLOGY.unit_of(c) == unit)


def write_status(platform: dict[str, Any], customer: str) -> str:
    posted = httpx.post(
        f"{platform['router_urls']['production']}/v1/customers/{customer}/transactions",
        json=BODY, headers={"Idempotency-Key": uuid.uuid4().hex}, timeout=30.0,
    )  # fmt: skip
    assert posted.status_code == 201, posted.text
    return str(posted.json()["status"])


def test_a_gray_unit_declines_its_writes_while_ready_and_heal_clears_it(
    platform: dict[str, Any],
) -> None:
    unit = TOPOLOGY.units[-1]
    primary, customer = status(platform)["routes"][unit]["site"], customer_of(unit)
    state = ["--state-dir", str(platform["dir"])]
    gray = watertight("fault", "gray-unit", unit, "--site", primary, "--mode", "decline-all",
                      *state)  # fmt: skip
    assert gray.returncode == 0, gray.stderr
    try:
        assert write_status(platform, customer) == "declined"
        assert ready(unit_record(platform, unit, primary))
    finally:
        healed = watertight("fault", "heal", *state)
    assert healed.returncode == 0, healed.stderr
    assert f"gray fault cleared on {unit} in {primary}" in healed.stdout
    assert write_status(platform, customer) != "declined"


def test_a_gray_fault_with_a_bad_mode_is_refused_by_the_instance_naming_the_field(
    platform: dict[str, Any],
) -> None:
    unit, state = TOPOLOGY.units[0], ["--state-dir", str(platform["dir"])]
    site = TOPOLOGY.placement(unit).primary
    done = watertight("fault", "gray-unit", unit, "--site", site, "--mode", "slow",
                      "--delay-ms", "-5", *state)  # fmt: skip
    assert done.returncode != 0
    assert "delay_ms" in done.stderr


def wan_seconds(platform: dict[str, Any], source: str, target: str) -> float:
    """Seconds a new connection from ``source``'s router container takes to fetch
    ``target``'s etcd ``/version`` across the WAN, timed inside the container."""
    container = router_container(platform, source)
    probe = (
        "import time, urllib.request\n"
        "began = time.monotonic()\n"
        f"urllib.request.urlopen('http://watertight-etcd.{target}.wan:2379/version', timeout=10)"
        ".read()\n"
        "print(time.monotonic() - began)"
    )
    done = subprocess.run(["docker", "exec", container, "python", "-c", probe],
                          capture_output=True, text=True, timeout=30, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return float(done.stdout)


def test_the_wan_has_its_distance_and_slow_delays_exactly_the_sites_links_until_heal(
    platform: dict[str, Any],
) -> None:
    # A request and its answer each cross the link once: at least twice its one-way delay.
    far = TOPOLOGY.link_delay_ms("production", "remote-dr") / 1000
    assert wan_seconds(platform, "production", "remote-dr") >= 2 * far
    state = ["--state-dir", str(platform["dir"])]
    slowed = watertight("fault", "slow", "same-city", "--ms", "300", *state)
    assert slowed.returncode == 0, slowed.stderr
    try:
        to_slow_site = wan_seconds(platform, "production", "same-city")
        elsewhere = wan_seconds(platform, "production", "remote-dr")
        assert to_slow_site >= 0.6
        assert elsewhere < to_slow_site - 0.3
    finally:
        healed = watertight("fault", "heal", *state)
    assert healed.returncode == 0, healed.stderr
    assert wan_seconds(platform, "production", "same-city") < to_slow_site - 0.3
