"""The topology model: defaults, the stable customer hash, and errors that name the field."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from failover.topology import (
    TopologyError,
    bucket_of,
    default_topology,
    load_topology,
    parse_topology,
)

REPO = Path(__file__).resolve().parents[2]


def shipped() -> dict[str, Any]:
    return yaml.safe_load((REPO / "topology.yaml").read_text())


def test_shipped_topology_is_the_design_default() -> None:
    loaded = load_topology(REPO / "topology.yaml")
    default = default_topology()
    assert loaded.placements == default.placements
    assert loaded.bucket_table == default.bucket_table
    assert loaded.units == tuple(f"u{i:02d}" for i in range(8))


def test_even_units_are_primary_in_production_and_odd_in_same_city() -> None:
    topology = default_topology()
    for i, unit in enumerate(topology.units):
        placement = topology.placement(unit)
        assert placement.primary == ("production" if i % 2 == 0 else "same-city")
        assert placement.remote_standby == "remote-dr"
        assert {placement.primary, placement.city_standby} == {"production", "same-city"}
        assert placement.standbys == topology.standbys_of(placement.primary)


def test_bucket_hash_is_pinned_across_machines_and_versions() -> None:
    # Pinned values: a change here reshuffles every customer between units.
    assert bucket_of("alice") == 175
    assert bucket_of("customer-000001") == bucket_of("customer-000001")
    assert [bucket_of(f"c{i}") for i in range(3)] == [
        bucket_of("c0"),
        bucket_of("c1"),
        bucket_of("c2"),
    ]


def test_bucket_hash_ignores_python_hash_randomisation() -> None:
    code = "from failover.topology import bucket_of; print(bucket_of('alice'))"
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": seed, "PYTHONPATH": str(REPO)},
        ).stdout.strip()
        for seed in ("1", "2", "3")
    }
    assert outputs == {"175"}


@given(st.from_regex(r"[A-Za-z0-9._:-]{1,64}", fullmatch=True))
def test_every_valid_customer_lands_in_exactly_one_unit_inside_its_range(customer: str) -> None:
    topology = default_topology()
    unit = topology.unit_of(customer)
    bucket = topology.bucket_of(customer)
    assert any(r.first <= bucket <= r.last for r in topology.bucket_ranges[unit])


@given(st.integers(min_value=1, max_value=64), st.integers(min_value=64, max_value=4096))
def test_contiguous_default_ranges_cover_every_bucket_once(units: int, buckets: int) -> None:
    doc = shipped()
    doc["units"] = units
    doc["buckets"] = buckets
    topology = parse_topology(doc)
    counted = sum(r.last - r.first + 1 for rs in topology.bucket_ranges.values() for r in rs)
    assert counted == buckets
    assert all(topology.bucket_table)


@pytest.mark.parametrize("bad", ["", "a b", "x" * 65, "ümlaut", "a/b"])
def test_malformed_customer_ids_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="customer_id"):
        default_topology().unit_of(bad)


def _broken(mutate: Any) -> dict[str, Any]:
    doc = copy.deepcopy(shipped())
    mutate(doc)
    return doc


BROKEN = {
    "unknown site in placement": (
        lambda d: d["units"][3].update(primary="prod"),
        "units[3].primary",
        "unknown site 'prod'",
    ),
    "a primary in the dr site": (
        lambda d: d["units"][0].update(primary="remote-dr"),
        "units[0].primary",
        "must start in an active site",
    ),
    "a standby named by hand (placement is derived)": (
        lambda d: d["units"][1].update(sync_standby="production"),
        "units[1].sync_standby",
        "Extra inputs are not permitted",
    ),
    "an unknown commit rule": (
        lambda d: d["replication"].update(commit_rule="majority"),
        "replication.commit_rule",
        "any-standby",
    ),
    "a negative link delay": (
        lambda d: d["network"].update(cross_city_delay_ms=-1),
        "network.cross_city_delay_ms",
        "greater than or equal to 0",
    ),
    "buckets not covering 0..1023": (
        lambda d: d["units"][7].update(buckets="896-1000"),
        "units",
        "unassigned, first 1001",
    ),
    "overlapping buckets": (
        lambda d: d["units"][1].update(buckets="100-255"),
        "units[1].buckets",
        "already assigned to unit u00",
    ),
    "duplicate unit names": (
        lambda d: d["units"][2].update(name="u01"),
        "units[2].name",
        "duplicate unit name 'u01'",
    ),
    "duplicate site names": (
        lambda d: d["sites"][1].update(name="production"),
        "sites[1].name",
        "duplicate site name",
    ),
    "wrong type": (
        lambda d: d["timing"].update(failure_rounds="three"),
        "timing.failure_rounds",
        "integer",
    ),
    "unknown field": (
        lambda d: d["timing"].update(probe_every=2),
        "timing.probe_every",
        "Extra inputs are not permitted",
    ),
    "quorum not a majority": (
        lambda d: d["timing"].update(quorum=1),
        "timing.quorum",
        "strict majority",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_topology_names_file_field_and_reason(case: str, tmp_path: Path) -> None:
    mutate, field, reason = BROKEN[case]
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(_broken(mutate)))
    with pytest.raises(TopologyError) as caught:
        load_topology(path)
    assert caught.value.source == str(path)
    assert caught.value.field == field
    assert reason in caught.value.reason


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_cli_validate_fails_on_each_broken_variant(case: str, tmp_path: Path) -> None:
    mutate, field, reason = BROKEN[case]
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(_broken(mutate)))
    result = subprocess.run(
        [sys.executable, "-m", "watertight", "topology", "validate", str(path)],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert result.returncode != 0
    assert f"{path}: {field}: " in result.stderr
    assert reason in result.stderr


def test_cli_validate_accepts_the_shipped_topology() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "watertight", "topology", "validate", "topology.yaml"],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
    assert "8 units" in result.stdout


def test_unreadable_and_non_yaml_files_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(TopologyError, match=r"missing\.yaml: cannot read file"):
        load_topology(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("sites: [unclosed")
    with pytest.raises(TopologyError, match=r"bad\.yaml: not valid YAML"):
        load_topology(bad)
