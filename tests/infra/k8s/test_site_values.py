"""Chart values come from the topology model and refuse inconsistent site wiring."""

from __future__ import annotations

import pytest

from failover.topology import default_topology, parse_topology
from infra.pulumi.site_values import (
    chart_values,
    deep_merge,
    kind_chart_values,
    kind_endpoints,
    topology_document,
)

SITES = {
    "sites": [
        {"name": "north", "city": "x", "role": "active"},
        {"name": "south", "city": "x", "role": "active"},
        {"name": "far", "city": "y", "role": "dr"},
    ],
    "units": 5,
}


def test_the_topology_document_round_trips_with_every_default_written_out() -> None:
    topology = parse_topology(SITES)
    document = topology_document(topology)
    assert all(
        {"primary", "sync_standby", "async_standby", "buckets"} <= set(u) for u in document["units"]
    )
    again = parse_topology(document)
    assert dict(again.placements) == dict(topology.placements)
    assert again.bucket_table == topology.bucket_table
    assert again.timing == topology.timing


def test_values_for_a_site_name_it_and_wire_every_other_site_as_a_peer() -> None:
    topology = parse_topology(SITES)
    values = kind_chart_values(topology, "south")
    assert values["site"] == "south"
    assert set(values["peerSites"]) == {"north", "far"}
    assert values["peerSites"]["far"]["etcdPeerUrl"] == "http://far-control-plane:32380"
    assert values["etcd"]["advertisePeerUrl"] == "http://south-control-plane:32380"
    assert values["adminToken"] == {
        "existingSecret": "watertight-admin-token",
        "key": "token",
        "generate": False,
    }


def test_an_unknown_site_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown site 'prod'; the topology has production"):
        kind_chart_values(default_topology(), "prod")


def test_peers_must_be_exactly_the_other_sites() -> None:
    topology = default_topology()
    peers = {"same-city": kind_endpoints("same-city"), "elsewhere": kind_endpoints("elsewhere")}
    with pytest.raises(ValueError, match="missing: remote-dr, unexpected: elsewhere"):
        chart_values(topology, "production", kind_endpoints("production"), peers)


def test_deep_merge_merges_mappings_and_replaces_everything_else() -> None:
    base = {"a": {"b": 1, "c": [1]}, "d": 1}
    assert deep_merge(base, {"a": {"c": [2]}, "e": 2}) == {"a": {"b": 1, "c": [2]}, "d": 1, "e": 2}
    assert base == {"a": {"b": 1, "c": [1]}, "d": 1}
