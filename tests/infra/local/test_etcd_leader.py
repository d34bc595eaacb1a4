"""etcd's raft leader placed in a chosen site, on a real three-member cluster."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from infra.local.etcd_cluster import EtcdCluster, plan_members
from infra.local.etcd_leader import LeaderMoveError, leader_site, move_leader
from infra.local.supervisor import Supervisor

SITES = ("production", "same-city", "remote-dr")


@pytest.fixture
def cluster(supervisor: Supervisor) -> Iterator[EtcdCluster]:
    started = EtcdCluster(supervisor, plan_members(SITES))
    started.start(timeout=60)
    yield started
    started.stop()


@pytest.mark.integration
def test_the_leader_moves_to_each_site_asked_for(cluster: EtcdCluster) -> None:
    urls = cluster.client_urls
    for site in ("remote-dr", "production", "remote-dr"):
        move_leader(urls, site)
        assert leader_site(urls) == site


@pytest.mark.integration
def test_moving_the_leader_to_a_dead_member_fails_naming_the_site(cluster: EtcdCluster) -> None:
    urls = cluster.client_urls
    move_leader(urls, "production")
    cluster.stop_member("remote-dr")
    with pytest.raises(LeaderMoveError, match="remote-dr within 2 s"):
        move_leader(urls, "remote-dr", timeout=2.0)
    assert leader_site(urls) == "production"


def test_no_answering_member_means_no_leader() -> None:
    assert leader_site({"production": "http://127.0.0.1:9"}, timeout=0.5) is None
