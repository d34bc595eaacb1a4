"""Bad values are refused by ``helm template`` with an error a person can act on."""

from __future__ import annotations

import pytest
from chart_helpers import CHART, Helm

PRODUCTION = ["-f", str(CHART / "values-production.yaml")]


def refused(helm: Helm, *args: str) -> str:
    done = helm("template", "watertight", str(CHART), *args)
    assert done.returncode != 0, "helm accepted values that must be refused"
    return done.stderr


def test_missing_site_is_refused_by_the_schema(helm: Helm) -> None:
    assert "site is required" in refused(helm)


def test_a_site_outside_the_topology_is_refused_naming_the_known_sites(helm: Helm) -> None:
    error = refused(helm, "--set", "site=prod")
    assert 'unknown site "prod"' in error
    assert "production, same-city, remote-dr" in error


def test_an_unknown_unit_is_refused_naming_the_topology_units(helm: Helm) -> None:
    error = refused(helm, *PRODUCTION, "--set", "units.overrides.u99.replicas=0")
    assert 'units.overrides.u99: unknown unit "u99"' in error
    assert "u00, u01" in error


def test_a_placement_naming_an_unknown_site_is_refused(helm: Helm) -> None:
    error = refused(helm, *PRODUCTION, "--set", "topology.units[0].primary=prod")
    assert "topology.units[0].primary" in error


def test_a_primary_in_the_dr_site_is_refused(helm: Helm) -> None:
    error = refused(helm, *PRODUCTION, "--set", "topology.units[2].primary=remote-dr")
    assert 'topology.units[2].primary: "remote-dr" is not an active site' in error
    assert "production, same-city" in error


@pytest.mark.parametrize(
    "setting",
    [
        "topology.units[0].sync_standby=same-city",
        "topology.units[0].async_standby=remote-dr",
        "topology.replication.sync_timeout_seconds=1",
        "topology.replication.async_batch_size=200",
        "topology.replication.async_interval_seconds=0.2",
        "topology.network.delay_ms=3",
    ],
)
def test_fields_the_topology_model_refuses_are_refused_by_the_schema(
    helm: Helm, setting: str
) -> None:
    # The programs would refuse the mounted topology (extra=forbid): fail at helm time.
    field = setting.partition("=")[0].rsplit(".", 1)[1]
    error = refused(helm, *PRODUCTION, "--set", setting)
    assert "topology" in error
    assert field in error


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("topology.replication.commit_rule=majority", "commit_rule"),
        ("topology.replication.ack_timeout_seconds=0", "ack_timeout_seconds"),
        ("topology.replication.batch_size=0", "batch_size"),
        ("topology.network.cross_city_delay_ms=-1", "cross_city_delay_ms"),
    ],
)
def test_replication_and_network_values_outside_the_model_are_refused(
    helm: Helm, setting: str, message: str
) -> None:
    assert message in refused(helm, *PRODUCTION, "--set", setting)


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("router.replicas=-1", "router.replicas: Must be greater than or equal to 0"),
        ("controller.replicas=-2", "controller.replicas: Must be greater than or equal to 0"),
        ("units.replicas=-1", "units.replicas: Must be greater than or equal to 0"),
        ("units.replicas=2", "units.replicas: Must be less than or equal to 1"),
    ],
)
def test_negative_or_unsafe_replica_counts_are_refused(
    helm: Helm, setting: str, message: str
) -> None:
    assert message in refused(helm, *PRODUCTION, "--set", setting)


def test_a_misspelled_field_is_refused(helm: Helm) -> None:
    error = refused(helm, *PRODUCTION, "--set", "router.replica=3")
    assert "router" in error
    assert "replica" in error


def test_a_missing_peer_site_is_refused(helm: Helm) -> None:
    only_dr = (
        'peerSites={"remote-dr": {"unitUrlTemplate": "http://dr:{nodePort}",'
        ' "etcdPeerUrl": "http://dr:2380", "etcdClientUrl": "http://dr:2379"}}'
    )
    error = refused(helm, "--set", "site=production", "--set-json", only_dr)
    assert 'missing site "same-city"' in error


def test_the_schema_accepts_every_committed_site_file(helm: Helm) -> None:
    for site in ("production", "same-city", "remote-dr"):
        done = helm("template", "watertight", str(CHART), "-f", str(CHART / f"values-{site}.yaml"))
        assert done.returncode == 0, done.stderr
