"""An observer's site probe against real etcd members: the question is whether the
site's processes answer, so a member that lost its quorum still counts its site as
reached (its ``/health`` would hang on a linearizable read past the probe's budget)."""

from __future__ import annotations

import pytest

from failover.observer.probes import Prober
from failover.topology import Timing
from infra.local.etcd_cluster import EtcdCluster, plan_members
from infra.local.supervisor import Supervisor

SITES = ("production", "same-city", "remote-dr")


@pytest.mark.integration
def test_a_member_without_its_quorum_still_counts_its_site_as_reached(
    supervisor: Supervisor,
) -> None:
    cluster = EtcdCluster(supervisor, plan_members(SITES))
    cluster.start(timeout=60)
    prober = Prober(Timing(probe_interval_seconds=1.0))
    try:
        urls = cluster.client_urls
        assert prober.round({}, urls).sites == dict.fromkeys(SITES, True)
        cluster.stop_member("same-city")
        cluster.stop_member("remote-dr")
        result = prober.round({}, urls)
    finally:
        prober.close()
        cluster.stop()
    assert result.sites == {"production": True, "same-city": False, "remote-dr": False}
