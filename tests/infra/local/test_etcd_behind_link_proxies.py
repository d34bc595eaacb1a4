"""A real 3-member etcd whose peer and client traffic crosses the link proxy process:
partitions act on the quorum exactly as a WAN fault would."""

from __future__ import annotations

import queue
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

import pytest

from failover.dcs import DcsUnavailable, EtcdDcs, WatchKind, WatchUpdate
from infra.local.etcd_cluster import (
    EtcdCluster,
    behind_proxy,
    client_endpoints,
    plan_members,
    register_peer_ids,
)
from infra.local.linkproxy_client import LinkProxyClient, start_link_proxy
from infra.local.linkproxy_modes import BLACKHOLE
from infra.local.supervisor import Supervisor

PROD, CITY, DR = "production", "same-city", "remote-dr"
SITES = (PROD, CITY, DR)
T = TypeVar("T")

pytestmark = pytest.mark.integration


@dataclass
class Wan:
    cluster: EtcdCluster
    proxy: LinkProxyClient

    def member(self, site: str) -> EtcdDcs:
        """A client of one member only (direct, as a process in that site would see it)."""
        return EtcdDcs([self.cluster.members[site].client_url], timeout=0.5)

    def site_client(self, site: str) -> EtcdDcs:
        return EtcdDcs(client_endpoints(self.cluster, self.proxy, site), timeout=0.5)


@pytest.fixture(scope="module")
def wan(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Wan]:
    supervisor = Supervisor(tmp_path_factory.mktemp("wan") / "state")
    try:
        proxy = start_link_proxy(supervisor, SITES)
        members = behind_proxy(plan_members(SITES), proxy)
        cluster = EtcdCluster(supervisor, members)
        cluster.start(timeout=60)
        register_peer_ids(cluster, proxy)
        yield Wan(cluster, proxy)
    finally:
        supervisor.stop_all(grace=1.5)


@pytest.fixture
def healed(wan: Wan) -> Iterator[Wan]:
    wan.proxy.heal()
    eventually(lambda: wan.member(PROD).put("/t/healed", "1"))
    yield wan
    wan.proxy.heal()


def eventually(action: Callable[[], T], timeout: float = 30.0) -> T:
    """Retry ``action`` until it succeeds (elections take a few seconds on shared cores)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return action()
        except DcsUnavailable:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def fails_eventually(action: Callable[[], object], timeout: float = 30.0) -> DcsUnavailable:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            action()
        except DcsUnavailable as exc:
            return exc
        time.sleep(0.3)
    raise AssertionError(f"still succeeding after {timeout} s")


def test_peer_traffic_really_crosses_the_proxy(healed: Wan) -> None:
    before = {(row["a"], row["b"]): row["stats"]["chunks"] for row in healed.proxy.links()}
    time.sleep(0.5)  # the leader heartbeats each follower every 100 ms
    after = {(row["a"], row["b"]): row["stats"]["chunks"] for row in healed.proxy.links()}
    busy = [link for link in before if after[link] > before[link]]
    assert len(busy) >= 2, (before, after)  # leader<->follower links; followers are quiet
    assert {site for link in busy for site in link} == set(SITES)


def test_partition_inside_city_a_leaves_the_cluster_writable_via_remote_dr(healed: Wan) -> None:
    healed.proxy.set_mode(PROD, CITY, BLACKHOLE)
    time.sleep(2.5)  # let raft notice: two election timeouts
    eventually(lambda: healed.member(DR).put("/t/partition", "written-via-dr"))
    assert eventually(lambda: healed.site_client(DR).get("/t/partition")) is not None


def test_an_isolated_site_cannot_serve_linearizable_reads_or_writes(healed: Wan) -> None:
    healed.proxy.set_mode(PROD, CITY, BLACKHOLE)
    healed.proxy.set_mode(PROD, DR, BLACKHOLE)
    fails_eventually(lambda: healed.member(PROD).get("/t/isolated"))
    with pytest.raises(DcsUnavailable):
        healed.member(PROD).put("/t/isolated", "from-the-island")
    eventually(lambda: healed.member(CITY).put("/t/isolated", "majority"))
    assert eventually(lambda: healed.member(DR).get("/t/isolated")) is not None
    with pytest.raises(DcsUnavailable):
        healed.site_client(PROD).get("/t/isolated")  # its proxied paths are cut too


@pytest.mark.slow  # stopping two members (tests/failover/dcs) proves the same by default
def test_cutting_two_sites_stops_writes_and_heal_restores_them(healed: Wan) -> None:
    for a, b in ((PROD, CITY), (PROD, DR), (CITY, DR)):
        healed.proxy.set_mode(a, b, BLACKHOLE)
    for site in SITES:
        fails_eventually(lambda s=site: healed.member(s).put("/t/cut", "no-quorum"))  # type: ignore[misc]
    healed.proxy.heal()
    eventually(lambda: healed.site_client(CITY).put("/t/cut", "quorum-again"))
    assert healed.site_client(DR).get("/t/cut") is not None


def test_a_watch_on_a_blackholed_path_resyncs_through_another_member(healed: Wan) -> None:
    prod = healed.cluster.members[PROD]
    via_wan = healed.proxy.listener_for(DR, PROD, prod.host, prod.client_port)
    # same-city as the fallback: it keeps its links to both others, so it reaches the
    # leader whoever that is (remote-dr alone would not if production leads).
    endpoints = [f"http://{via_wan[0]}:{via_wan[1]}", healed.cluster.members[CITY].client_url]
    watcher = EtcdDcs(endpoints, timeout=0.5, idle_timeout=2.0)
    updates: queue.Queue[WatchUpdate] = queue.Queue()
    handle = watcher.watch_prefix("/t/watched/", updates.put)
    try:
        assert updates.get(timeout=30).kind is WatchKind.SNAPSHOT  # streaming from production
        healed.proxy.set_mode(DR, PROD, BLACKHOLE)  # the stream goes silent, not closed
        eventually(lambda: healed.member(CITY).put("/t/watched/k", "v"))
        seen: set[str] = set()
        while "/t/watched/k" not in seen:
            update = updates.get(timeout=30)
            seen |= set(update.snapshot) | {e.key for e in update.events}
    finally:
        handle.stop()
