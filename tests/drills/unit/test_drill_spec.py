"""The drill spec: the standard library loads, and broken specs name file, field, reason."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, get_args

import pytest
import yaml
from pydantic import ValidationError

from drills.spec import DrillSpecError, library, load_spec, parse_spec
from drills.steps import ACTION_NAMES, LEADER_SITE, Action, SiteDown
from failover.topology import default_topology

LIBRARY = {
    "city-a-lost",
    "city-cut-then-production-lost",
    "city-partition",
    "gray-unit",
    "gray-unit-slow",
    "leader-site-fails",
    "production-hang",
    "production-outage",
    "remote-dr-lost",
    "same-city-outage",
    "site-switchover-and-failback",
    "slow-site",
    "unit-crash",
}


def minimal() -> dict[str, Any]:
    return {
        "title": "minimal",
        "load": {
            "rate_per_second": 10,
            "customers": 20,
            "duration_seconds": 30,
            "mix": {"purchase": 0.7, "payment": 0.2, "refund": 0.1},
        },
        "method": [{"at": 5, "action": "site-down", "site": "production"}],
        "rollbacks": [{"action": "heal"}],
    }


def test_the_library_holds_every_standard_drill() -> None:
    assert set(library()) == LIBRARY


@pytest.mark.parametrize("name", sorted(LIBRARY))
def test_every_library_drill_validates_against_the_default_topology(name: str) -> None:
    spec = load_spec(library()[name], default_topology())
    assert spec.name == name
    # Short enough for CI; the switchover drill waits out the 60 s failback window (and
    # its load outlasts the failback's sequential moves by a steady-state window), the
    # hang drill gives the thawed site 20 s to settle before steady state is judged, and
    # the gray drills let the trend watch warm up (15 s) and hold (5 s) before it judges,
    # and city-a-lost's load outlasts its 40 s RTO bound (the steady state after is judged
    # over the load's last window).
    longest = {"site-switchover-and-failback": 90, "production-hang": 50, "gray-unit": 60,
               "gray-unit-slow": 60, "city-a-lost": 60}  # fmt: skip
    longest_here = longest.get(name, 45)
    assert 30 <= spec.load.duration_seconds <= longest_here, "library drills must stay short for CI"
    assert spec.rollbacks, "every library drill heals what it broke"
    assert spec.expect.split_brain is False


@pytest.mark.parametrize("name", sorted(LIBRARY))
def test_every_library_drill_offers_fifty_writes_a_second_over_at_least_300_customers(
    name: str,
) -> None:
    load = load_spec(library()[name]).load
    assert load.rate_per_second == 50
    assert load.customers >= 300


SITE_OUTAGES = ["production-outage", "same-city-outage", "production-hang", "leader-site-fails"]


@pytest.mark.parametrize("name", SITE_OUTAGES)
def test_site_outages_bound_the_moved_units_rto_at_8_seconds_with_nothing_lost(name: str) -> None:
    expect = load_spec(library()[name]).expect
    assert expect.rto_seconds_max == 8
    assert expect.rpo_lost_acknowledged == 0


@pytest.mark.parametrize("name", ["production-outage", "same-city-outage"])
def test_a_city_a_site_outage_leaves_the_other_sites_units_uninterrupted(name: str) -> None:
    spec = load_spec(library()[name])
    assert spec.expect.survivors_interruption_seconds_max == 1
    assert spec.expect.failovers is not None and spec.expect.failovers.min == 4
    assert spec.faults[0].name == "site-down"


@pytest.mark.parametrize("name", ["city-partition", "slow-site", "remote-dr-lost"])
def test_partitions_slowness_and_the_witness_lost_expect_no_failover(name: str) -> None:
    expect = load_spec(library()[name]).expect
    assert expect.expects_no_failover
    assert expect.failovers is not None and expect.failovers.max == 0
    assert expect.false_failovers == 0


@pytest.mark.parametrize("name", ["city-partition", "remote-dr-lost"])
def test_a_cut_or_the_witness_lost_interrupts_no_unit_for_more_than_a_second(name: str) -> None:
    expect = load_spec(library()[name]).expect
    assert expect.unit_interruption_seconds_max == 1
    assert expect.rpo_lost_acknowledged == 0


def test_the_city_partition_cuts_the_city_a_link_for_20_seconds() -> None:
    spec = load_spec(library()["city-partition"])
    cut, heal = spec.method
    assert cut.describe() == "partition production same-city"
    assert heal.name == "heal"
    assert (heal.at or 0) - (cut.at or 0) == 20


def test_remote_dr_lost_kills_the_witness_and_brings_it_back() -> None:
    spec = load_spec(library()["remote-dr-lost"])
    assert [s.describe() for s in spec.method] == ["site-down remote-dr", "site-up remote-dr"]
    assert "site-up remote-dr" in [s.describe() for s in spec.rollbacks]


def test_city_cut_then_production_lost_kills_production_during_the_cut() -> None:
    spec = load_spec(library()["city-cut-then-production-lost"])
    steps = [s.describe() for s in spec.method]
    assert steps[:2] == ["partition production same-city", "site-down production"]
    assert (spec.method[1].at or 0) > (spec.method[0].at or 0)
    assert steps.index("heal") > 1, "the cut lasts until after production is lost"
    assert "site-up production" in steps


def test_city_cut_then_production_lost_moves_the_even_units_without_approval() -> None:
    spec = load_spec(library()["city-cut-then-production-lost"])
    assert not [s for s in spec.method if s.name in ("approve", "declare-disaster")]
    expect = spec.expect
    assert expect.failovers is not None
    assert (expect.failovers.min, expect.failovers.max) == (4, 4)
    assert expect.only_units_move == ["u00", "u02", "u04", "u06"]
    assert expect.rpo_lost_acknowledged == 0
    assert expect.all_units_recover, "a unit held for approval must fail the drill"


def test_city_a_lost_reports_the_loss_and_approves_it() -> None:
    spec = load_spec(library()["city-a-lost"])
    assert spec.expect.rpo_lost_acknowledged == "reported"
    approvals = [s for s in spec.method if s.name == "approve"]
    assert approvals and all(getattr(a, "accept_loss", False) for a in approvals)


def test_city_a_lost_declares_the_disaster_on_remote_dr_before_anything_can_be_approved() -> None:
    spec = load_spec(library()["city-a-lost"])
    names = [s.name for s in spec.method]
    declare = spec.method[names.index("declare-disaster")]
    assert declare.describe() == "declare-disaster --survivor remote-dr"
    assert not declare.is_fault
    assert names.index("declare-disaster") < names.index("approve")
    waits = [getattr(s, "condition", None) for s in spec.method]
    assert "approval-pending-every-unit" in waits


def test_city_a_lost_loses_both_city_a_sites_in_one_step() -> None:
    spec = load_spec(library()["city-a-lost"])
    faults = [s for s in spec.method if s.is_fault]
    assert [f.describe() for f in faults] == ["site-down production same-city"]


def test_unit_crash_lets_only_that_unit_move() -> None:
    spec = load_spec(library()["unit-crash"])
    assert spec.expect.only_units_move == ["u02"]
    assert spec.faults[0].describe() == "unit-crash u02 --site production"


def test_a_drill_at_another_rate_keeps_everything_but_its_rate() -> None:
    spec = load_spec(library()["production-outage"])
    faster = spec.at_rate(500)
    assert faster.load.rate_per_second == 500
    assert faster.load.model_dump(exclude={"rate_per_second"}) == spec.load.model_dump(
        exclude={"rate_per_second"}
    )
    assert faster.model_dump(exclude={"load"}) == spec.model_dump(exclude={"load"})
    assert spec.load.rate_per_second == 50  # the library's own spec is untouched


@pytest.mark.parametrize("rate", [0, -5, 10_001])
def test_a_rate_the_file_could_not_hold_is_refused_too(rate: float) -> None:
    spec = load_spec(library()["production-outage"])
    with pytest.raises(ValidationError, match="rate_per_second"):
        spec.at_rate(rate)


def test_leader_site_is_resolved_at_run_time() -> None:
    spec = load_spec(library()["leader-site-fails"], default_topology())
    first = spec.method[0]
    assert isinstance(first, SiteDown)
    assert first.site == LEADER_SITE


def test_a_spec_without_name_is_named_after_its_file(tmp_path: Path) -> None:
    path = tmp_path / "my-drill.yaml"
    path.write_text(yaml.safe_dump(minimal()))
    assert load_spec(path).name == "my-drill"


@pytest.mark.parametrize("file_name", ["...yaml", ".yaml", "My Drill.yaml"])
def test_a_file_name_that_is_no_drill_name_asks_for_a_name_in_the_file(
    tmp_path: Path, file_name: str
) -> None:
    path = tmp_path / file_name
    path.write_text(yaml.safe_dump(minimal()))
    with pytest.raises(DrillSpecError) as caught:
        load_spec(path)
    assert caught.value.field == "name"
    assert "add 'name:' to the file" in caught.value.reason
    path.write_text(yaml.safe_dump({**minimal(), "name": "my-drill"}))
    assert load_spec(path).name == "my-drill"


def test_names_are_only_checked_when_a_topology_is_given() -> None:
    doc = minimal()
    doc["method"][0]["site"] = "atlantis"
    assert parse_spec(doc).method[0].describe() == "site-down atlantis"
    with pytest.raises(DrillSpecError, match="unknown site 'atlantis'"):
        parse_spec(doc, topology=default_topology())


def test_actions_describe_themselves_as_command_lines() -> None:
    doc = minimal()
    doc["method"] = [
        {"at": 1, "action": "partition", "a": "production", "b": "same-city"},
        {"at": 2, "action": "slow", "site": "same-city", "ms": 100},
        {"at": 3, "action": "switchover", "from": "production", "to": "same-city"},
        {"at": 4, "action": "wait-until", "condition": "site-declared-down", "site": "production",
         "timeout_seconds": 5},
    ]  # fmt: skip
    spec = parse_spec(doc, topology=default_topology())
    assert [s.describe() for s in spec.method] == [
        "partition production same-city",
        "slow same-city --ms 100",
        "switchover --from production --to same-city",
        "wait-until site-declared-down production (timeout 5 s)",
    ]
    assert [s.is_fault for s in spec.method] == [True, True, False, False]


def _set(path: str, value: Any) -> Any:
    """A mutation of :func:`minimal` setting ``a.b[0].c`` style paths."""

    def mutate(doc: dict[str, Any]) -> None:
        parts = path.replace("]", "").replace("[", ".").split(".")
        target: Any = doc
        for part in parts[:-1]:
            target = target[int(part)] if part.isdigit() else target[part]
        last = parts[-1]
        if last.isdigit():
            target[int(last)] = value
        else:
            target[last] = value

    return mutate


BROKEN = {
    "unknown action": (
        _set("method[0].action", "meteor"),
        "method[0].action",
        "unknown action 'meteor'; known: site-down",
    ),
    "missing action": (_set("method[0]", {"at": 5}), "method[0]", "missing 'action'"),
    "unknown site": (
        _set("method[0].site", "prod"),
        "method[0].site",
        "unknown site 'prod'; known sites: production, same-city, remote-dr",
    ),
    "a site-down of one site and of several": (
        _set("method[0].sites", ["same-city", "remote-dr"]),
        "method[0]",
        "give either 'site' (one site) or 'sites' (several at once)",
    ),
    "an unknown site among sites lost together": (
        _set("method[0]", {"at": 5, "action": "site-down", "sites": ["production", "mars"]}),
        "method[0].sites[1]",
        "unknown site 'mars'",
    ),
    "the leader's site among sites lost together": (
        _set("method[0]", {"at": 5, "action": "site-down", "sites": ["production", "$leader"]}),
        "method[0]",
        "'sites' cannot name $leader",
    ),
    "a site lost together with itself": (
        _set("method[0]", {"at": 5, "action": "site-down", "sites": ["production", "production"]}),
        "method[0]",
        "'sites' names a site twice",
    ),
    "sites lost together naming one site": (
        _set("method[0]", {"at": 5, "action": "site-down", "sites": ["production"]}),
        "method[0].sites",
        "at least 2 items",
    ),
    "unknown unit": (
        _set("method[0]", {"at": 5, "action": "unit-crash", "unit": "u99", "site": "production"}),
        "method[0].unit",
        "unknown unit 'u99'",
    ),
    "unknown disaster survivor": (
        _set("method[0]", {"at": 5, "action": "declare-disaster", "survivor": "mars"}),
        "method[0].survivor",
        "unknown site 'mars'",
    ),
    "unknown site in a rollback": (
        _set("rollbacks[0]", {"action": "site-up", "site": "mars"}),
        "rollbacks[0].site",
        "unknown site 'mars'",
    ),
    "mix not summing to 1": (
        _set("load.mix.refund", 0.3),
        "load.mix",
        "the shares must sum to 1, got 1.2",
    ),
    "negative offset": (
        _set("method[0].at", -1),
        "method[0].at",
        "greater than or equal to 0",
    ),
    "negative rate": (
        _set("load.rate_per_second", -5),
        "load.rate_per_second",
        "greater than 0",
    ),
    "missing offset": (
        _set("method[0]", {"action": "heal"}),
        "method[0].at",
        "needs an offset",
    ),
    "steps out of order": (
        _set("method", [{"at": 9, "action": "heal"}, {"at": 3, "action": "heal"}]),
        "method[1].at",
        "time order",
    ),
    "step after the load ends": (
        _set("method[0].at", 31),
        "method[0].at",
        "after the load ends (30 s)",
    ),
    "rollback with an offset": (
        _set("rollbacks[0]", {"at": 3, "action": "heal"}),
        "rollbacks[0].at",
        "remove 'at'",
    ),
    "unknown field": (
        _set("load.burst", 3),
        "load.burst",
        "Extra inputs are not permitted",
    ),
    "partition of a site with itself": (
        _set("method[0]", {"at": 5, "action": "partition", "a": "production", "b": "production"}),
        "method[0].b",
        "two different sites",
    ),
    "wait-until a site condition without a site": (
        _set(
            "method[0]",
            {
                "at": 5,
                "action": "wait-until",
                "condition": "site-declared-down",
                "timeout_seconds": 5,
            },
        ),
        "method[0].site",
        "needs a 'site'",
    ),
    "unknown probe": (
        _set("steady_state", [{"probe": "vibes"}]),
        "steady_state[0].probe",
        "unknown probe 'vibes'",
    ),
    "rpo neither a count nor 'reported'": (
        _set("expect", {"rpo_lost_acknowledged": "some"}),
        "expect.rpo_lost_acknowledged",
        "or 'reported'",
    ),
    "split brain expected": (
        _set("expect", {"split_brain": True}),
        "expect.split_brain",
        "never acceptable",
    ),
    "failover bounds reversed": (
        _set("expect", {"failovers": {"min": 4, "max": 1}}),
        "expect.failovers",
        "max (1) is below min (4)",
    ),
    "false failovers in a drill that expects failovers": (
        _set("expect", {"failovers": {"min": 1}, "false_failovers": 0}),
        "expect",
        "expect no failover",
    ),
    "negative interruption bound": (
        _set("expect", {"unit_interruption_seconds_max": -1}),
        "expect.unit_interruption_seconds_max",
        "must be a number of seconds",
    ),
    "survivors bound that is not a number": (
        _set("expect", {"survivors_interruption_seconds_max": "soon"}),
        "expect.survivors_interruption_seconds_max",
        "must be a number of seconds",
    ),
    "every-unit interruption bound in a drill that expects failovers": (
        _set("expect", {"failovers": {"min": 4}, "unit_interruption_seconds_max": 1}),
        "expect",
        "bound survivors_interruption_seconds_max",
    ),
    "epoch changes instead of failovers": (
        _set("expect", {"epoch_changes": {"max": 0}}),
        "expect.epoch_changes",
        "failovers: {max: N}",
    ),
    "an RTO bound the load ends before": (
        lambda doc: doc.update(
            expect={"rto_seconds_max": 21},
            steady_state=[{"probe": "error-rate", "max": 0.01, "window_seconds": 5}],
        ),
        "load.duration_seconds",
        "last fault at 5 s + rto_seconds_max 21 s + a 5 s window = 31 s",
    ),
    "unknown unit in only_units_move": (
        _set("expect", {"only_units_move": ["u42"]}),
        "expect.only_units_move[0]",
        "unknown unit 'u42'",
    ),
    "string where a number belongs": (
        _set("load.customers", "many"),
        "load.customers",
        "valid integer",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_spec_names_file_field_and_reason(case: str, tmp_path: Path) -> None:
    mutate, field, reason = BROKEN[case]
    doc = copy.deepcopy(minimal())
    mutate(doc)
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(DrillSpecError) as caught:
        load_spec(path, default_topology())
    assert caught.value.source == str(path)
    assert caught.value.field == field
    assert reason in caught.value.reason
    assert str(caught.value).startswith(f"{path}: {field}: ")


def test_a_load_that_just_outlasts_the_rto_bound_and_the_window_is_accepted() -> None:
    doc = minimal()  # a fault at 5 s, a load of 30 s
    doc["expect"] = {"rto_seconds_max": 20}
    doc["steady_state"] = [{"probe": "all-units-serving", "window_seconds": 5}]
    assert parse_spec(doc).load.duration_seconds == 30


def test_bad_yaml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("title: [unclosed\n")
    with pytest.raises(DrillSpecError) as caught:
        load_spec(path)
    assert caught.value.source == str(path)
    assert caught.value.field == ""
    assert "not valid YAML" in caught.value.reason


def test_a_missing_file_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(DrillSpecError, match="cannot read file"):
        load_spec(tmp_path / "absent.yaml")


def test_a_document_that_is_not_a_mapping_is_refused() -> None:
    with pytest.raises(DrillSpecError, match="must be a mapping"):
        parse_spec(["title", "load"], source="list.yaml")


def test_the_listed_action_names_are_exactly_the_actions_the_spec_accepts() -> None:
    union = get_args(get_args(Action)[0])
    tags = {get_args(cls.model_fields["action"].annotation)[0] for cls in union}
    assert tags == set(ACTION_NAMES)
