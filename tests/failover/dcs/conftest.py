"""A real 3-member etcd on loopback for the adapter's integration tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from failover.dcs import EtcdDcs
from infra.local.etcd_cluster import EtcdCluster, plan_members
from infra.local.supervisor import Supervisor

SITES = ("production", "same-city", "remote-dr")


def start_cluster(state: Path) -> EtcdCluster:
    cluster = EtcdCluster(Supervisor(state), plan_members(SITES))
    cluster.start(timeout=60)
    return cluster


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtcdCluster]:
    """Shared by a module's tests; they must not stop members (use ``own_cluster``)."""
    state = tmp_path_factory.mktemp("etcd") / "state"
    try:
        yield start_cluster(state)
    finally:
        Supervisor(state).stop_all(grace=1.5)


@pytest.fixture
def own_cluster(tmp_path: Path) -> Iterator[EtcdCluster]:
    """A cluster of the test's own, which it may break."""
    try:
        yield start_cluster(tmp_path / "state")
    finally:
        Supervisor(tmp_path / "state").stop_all(grace=1.5)


@pytest.fixture
def dcs(cluster: EtcdCluster, request: pytest.FixtureRequest) -> Iterator[EtcdDcs]:
    """A client of every member, with the test's keys cleaned up after it."""
    client = EtcdDcs(list(cluster.client_urls.values()), timeout=1.0)
    yield client
    client.delete("/", prefix=True)
    client.close()
