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
    assert [set(u) for u in document["units"]] == [{"name", "buckets", "primary"}] * 5
    for section in ("replication", "network", "timing", "policy", "trends"):
        assert document[section] == getattr(topology, section).model_dump(), section
    assert document["replication"]["commit_rule"] == "any-standby"
    again = parse_topology(document)
    assert dict(again.placements) == dict(topology.placements)
    assert again.bucket_table == topology.bucket_table
    assert again == topology


def test_the_topology_document_keeps_non_default_replication_and_network() -> None:
    topology = parse_topology(
        {
            **SITES,
            "units": [{"name": "a", "primary": "south"}, {"name": "b", "primary": "north"}],
            "replication": {"commit_rule": "all-standbys", "ack_timeout_seconds": 2.5},
            "network": {"same_city_delay_ms": 0.5, "cross_city_delay_ms": 40.0},
        }
    )
    document = topology_document(topology)
    assert document["units"][0] == {"name": "a", "buckets": "0-511", "primary": "south"}
    again = parse_topology(document)
    assert again.replication.commit_rule == "all-standbys"
    assert again.replication.ack_timeout_seconds == 2.5
    assert again.link_delay_ms("north", "far") == 40.0
    assert again.placement("a").standbys == ("north", "far")
    assert again == topology


def test_the_topology_document_keeps_the_operators_trend_settings() -> None:
    # Dropped once: a gray-unit drill on the rendered chart never warned, its short
    # trend windows lost between the topology file and the chart's ConfigMap.
    trends = {"warmup_seconds": 15.0, "hold_seconds": 5.0, "current_half_life_seconds": 3.0}
    topology = parse_topology({**SITES, "trends": trends})
    again = parse_topology(topology_document(topology))
    assert again.trends.warmup_seconds == 15.0 and again.trends.hold_seconds == 5.0
    assert again == topology


def test_the_topology_document_carries_none_of_the_old_replication_fields() -> None:
    # The loader refuses sync_standby/async_standby and the old replication keys.
    document = topology_document(default_topology())
    stale = {"sync_standby", "async_standby"}
    assert all(not stale & set(u) for u in document["units"])
    assert set(document["replication"]) == {
        "commit_rule",
        "ack_timeout_seconds",
        "batch_size",
        "heartbeat_seconds",
        "allow_data_losing_failover",
    }


def test_values_for_a_site_name_it_and_wire_every_other_site_as_a_peer() -> None:
    topology = parse_topology(SITES)
    values = kind_chart_values(topology, "south")
    assert values["site"] == "south"
    assert set(values["peerSites"]) == {"north", "far"}
    assert values["peerSites"]["far"]["etcdPeerUrl"] == "http://far-control-plane:32380"
    assert values["etcd"]["advertisePeerUrl"] == "http://south-control-plane:32380"
    # The controller advertises its own URL too (the leader's is where clients are sent).
    assert values["controller"] == {
        "advertiseUrl": "http://south-control-plane:30090",
        "service": {"type": "NodePort", "nodePort": 30090},
    }
    assert values["credentials"] == {"existingSecret": "watertight-credentials", "generate": False}
    assert "adminToken" not in values


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
