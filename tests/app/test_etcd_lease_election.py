"""A primary's lease against a real etcd election: the member leading raft dies in
another site, its links blackholed as in ``fault site-down``. The primary's own member
survives, so the primary must keep its lease throughout (it fenced on every unit before
the keepalive asked one endpoint per call and retried at once)."""

from __future__ import annotations

import time

import pytest

from app.etcd_lease import EtcdPrimaryLease
from app.settings import UnitSettings
from failover.topology import default_topology
from infra.local.etcd_cluster import (
    EtcdCluster,
    behind_proxy,
    client_endpoints,
    plan_members,
    register_peer_ids,
)
from infra.local.etcd_leader import leader_site, move_leader
from infra.local.linkproxy_client import start_link_proxy
from infra.local.linkproxy_modes import BLACKHOLE
from infra.local.supervisor import Supervisor

PROD, CITY, DR = "production", "same-city", "remote-dr"
TTL = default_topology().timing.primary_lease_ttl_seconds


@pytest.mark.integration
def test_a_primary_keeps_its_lease_while_etcd_elects_a_new_leader(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    supervisor = Supervisor(tmp_path_factory.mktemp("election") / "state")
    lease: EtcdPrimaryLease | None = None
    try:
        proxy = start_link_proxy(supervisor, (PROD, CITY, DR))
        cluster = EtcdCluster(supervisor, behind_proxy(plan_members((PROD, CITY, DR)), proxy))
        cluster.start(timeout=60)
        register_peer_ids(cluster, proxy)
        move_leader(cluster.client_urls, DR)
        endpoints = tuple(client_endpoints(cluster, proxy, PROD))
        lease = EtcdPrimaryLease(UnitSettings(unit="u00", site=PROD, etcd_endpoints=endpoints))
        lease.acquire("u00", PROD, 1)
        time.sleep(1.0)
        proxy.set_site_links(DR, BLACKHOLE)
        cluster.stop_member(DR, grace=0.0)
        watch_until = time.monotonic() + 3 * TTL
        while time.monotonic() < watch_until:
            assert lease.valid(), "the primary fenced during the etcd election"
            time.sleep(0.02)
        assert leader_site({s: cluster.client_urls[s] for s in (PROD, CITY)}) in (PROD, CITY)
    finally:
        if lease is not None:
            lease.release()
        supervisor.stop_all(grace=1.5)
