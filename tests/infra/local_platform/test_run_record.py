"""What an earlier run left decides what ``up`` does; ``down`` with nothing running is a
no-op that keeps everything."""

from __future__ import annotations

import socket
import time
from dataclasses import replace
from pathlib import Path

import pytest

from failover.topology import Topology, load_topology
from infra.local.etcd_cluster import EtcdCluster
from infra.local.foundation import etcd_record
from infra.local.platform import LocalPlatform
from infra.local.run_record import (
    PortPlan,
    discard_first_start,
    fresh_plan,
    mark_stopped,
    previous_run,
    recorded_peer_urls,
    recorded_plan,
    restart_notice,
)
from infra.local.state import PlatformError, PlatformState, ProcessRecord
from infra.local.supervisor import Supervisor

REPO = Path(__file__).resolve().parents[3]
TOPOLOGY_FILE = REPO / "topology.yaml"


@pytest.fixture(scope="module")
def topology() -> Topology:
    return load_topology(TOPOLOGY_FILE)


def _record(state_dir: Path, topology: Topology, plan: PortPlan) -> PlatformState:
    """A record shaped as ``up`` writes it, on ``plan``'s ports."""
    sites = list(topology.site_names)
    cluster = EtcdCluster(Supervisor(state_dir), plan.members(sites), binary=Path("/bin/true"))
    state = PlatformState(
        state_dir=str(state_dir),
        topology_file=str(TOPOLOGY_FILE),
        topology_name=topology.name,
        sites=sites,
        router_url=f"http://127.0.0.1:{plan.router}",
        proxy_control_url="http://127.0.0.1:1",
        etcd_client_urls=cluster.client_urls,
        credentials_dir=str(state_dir / "credentials"),
    )
    for member in cluster.members.values():
        state.processes[member.name] = etcd_record(cluster, member)

    def add(name: str, port: int, kind: str, variable: str = "WATERTIGHT_PORT") -> None:
        env = {variable: str(port)}
        state.processes[name] = ProcessRecord(name, ["python"], env, None, None, kind)

    for (unit, site), port in plan.units.items():
        add(f"unit-{unit}-{site}", port, "unit")
    for site, port in plan.controllers.items():
        add(f"controller-{site}", port, "controller")
    add("router", plan.router, "router")
    for site, port in plan.observers.items():
        add(f"observer-{site}", port, "observer", "WATERTIGHT_METRICS_PORT")
    return state


def test_a_fresh_plan_hands_out_every_port_once(topology: Topology) -> None:
    plan = fresh_plan(topology)
    ports = [port for port, _ in plan.labelled()]
    assert len(ports) == len(set(ports)) == 2 * 3 + 8 * 3 + 3 + 1 + 3


def test_an_unused_state_dir_has_no_previous_run(tmp_path: Path) -> None:
    assert previous_run(tmp_path / "missing") is None
    (tmp_path / "logs").mkdir()
    (tmp_path / "etcd").mkdir()  # empty: nothing was ever written there
    assert previous_run(tmp_path) is None


def test_data_without_a_record_is_refused_and_nothing_is_discarded(tmp_path: Path) -> None:
    database = tmp_path / "data" / "production" / "u00.db"
    database.parent.mkdir(parents=True)
    database.write_text("acknowledged transactions")
    with pytest.raises(PlatformError, match=r"holds the data of an earlier platform \(data\)"):
        previous_run(tmp_path)
    assert database.read_text() == "acknowledged transactions"


def test_a_recorded_platform_is_restarted_on_its_own_ports(
    tmp_path: Path, topology: Topology
) -> None:
    plan = fresh_plan(topology)
    _record(tmp_path, topology, plan).save(tmp_path)
    previous = previous_run(tmp_path)
    assert previous is not None
    assert recorded_plan(previous, topology, TOPOLOGY_FILE) == plan
    assert recorded_plan(previous, topology, TOPOLOGY_FILE, router_port=1234).router == 1234


def test_a_record_from_before_observers_served_metrics_gets_them_fresh_ports(
    tmp_path: Path, topology: Topology
) -> None:
    plan = fresh_plan(topology)
    record = _record(tmp_path, topology, plan)
    for site in topology.site_names:
        record.processes[f"observer-{site}"].env.clear()
    restarted = recorded_plan(record, topology, TOPOLOGY_FILE)
    assert replace(restarted, observers=plan.observers) == plan
    ports = [port for port, _ in restarted.labelled()]
    assert len(ports) == len(set(ports))


def test_a_recorded_port_now_taken_is_named_and_nothing_starts(
    tmp_path: Path, topology: Topology
) -> None:
    plan = fresh_plan(topology)
    record = _record(tmp_path, topology, plan)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", plan.units["u03", "same-city"]))
        taken.listen()
        with pytest.raises(PlatformError, match=r"\(unit u03 in same-city\) are in use"):
            recorded_plan(record, topology, TOPOLOGY_FILE)


def test_a_record_of_another_topology_file_is_refused(tmp_path: Path, topology: Topology) -> None:
    record = _record(tmp_path, topology, fresh_plan(topology))
    with pytest.raises(PlatformError, match="--topology"):
        recorded_plan(record, topology, tmp_path / "other.yaml")


def test_a_disaster_whose_lost_members_never_came_back_is_not_restarted(
    tmp_path: Path, topology: Topology
) -> None:
    record = _record(tmp_path, topology, fresh_plan(topology))
    record.etcd_removed = ["production", "same-city"]
    with pytest.raises(PlatformError, match="declared a disaster"):
        recorded_plan(record, topology, TOPOLOGY_FILE)


def test_a_record_lacking_a_process_is_refused_as_incomplete(
    tmp_path: Path, topology: Topology
) -> None:
    record = _record(tmp_path, topology, fresh_plan(topology))
    del record.processes["controller-remote-dr"]
    with pytest.raises(PlatformError, match="controller-remote-dr"):
        recorded_plan(record, topology, TOPOLOGY_FILE)


def test_peer_urls_come_from_the_record_or_else_from_each_members_command_line(
    tmp_path: Path, topology: Topology
) -> None:
    record = _record(tmp_path, topology, fresh_plan(topology))
    advertised = recorded_peer_urls(record)
    assert set(advertised) == set(topology.site_names)
    record.etcd_peer_urls = {"production": ["http://127.0.0.1:1", "http://127.0.0.1:2"]}
    moving = recorded_peer_urls(record)
    assert moving["production"] == ["http://127.0.0.1:1", "http://127.0.0.1:2"]
    assert moving["remote-dr"] == advertised["remote-dr"]


def test_down_with_nothing_running_stops_nothing_and_creates_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    assert LocalPlatform(missing).down() == []
    assert LocalPlatform(missing).down() == []
    assert not missing.exists()


def test_down_marks_the_record_stopped_and_status_says_up_restarts_it(
    tmp_path: Path, topology: Topology
) -> None:
    _record(tmp_path, topology, fresh_plan(topology)).save(tmp_path)
    platform = LocalPlatform(tmp_path)
    assert platform.state().stopped_at is None
    assert platform.down() == []
    stopped = PlatformState.load(tmp_path).stopped_at
    assert stopped is not None
    with pytest.raises(PlatformError, match="`watertight up` restarts it"):
        platform.state()
    assert mark_stopped(tmp_path) is not None
    assert PlatformState.load(tmp_path).stopped_at == stopped  # the first stop is kept


def test_a_failed_first_start_leaves_no_data_but_keeps_its_logs(tmp_path: Path) -> None:
    for name in ("etcd/production/member", "data/production", "controller", "logs"):
        (tmp_path / name).mkdir(parents=True)
    (tmp_path / "platform.json").write_text("{}")
    (tmp_path / "logs" / "etcd-production.log").write_text("why it failed")
    discard_first_start(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["logs"]
    assert previous_run(tmp_path) is None


def test_the_restart_notice_names_the_directory_and_when_it_was_stopped(
    tmp_path: Path, topology: Topology
) -> None:
    record = _record(tmp_path, topology, fresh_plan(topology))
    died = restart_notice(record, "http://127.0.0.1:9")
    assert died.startswith(f"restarting the platform recorded in {tmp_path}")
    assert "died without `down`" in died
    record.stopped_at = time.mktime((2024, 5, 6, 7, 8, 9, 0, 0, -1))
    assert "stopped by `down` at 2024-05-06 07:08:09" in restart_notice(record, "x")
