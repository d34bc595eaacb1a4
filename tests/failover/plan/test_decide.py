"""The decision on the named scenarios of docs/design.md §3, with the sentences it returns."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from plan_scenarios import (
    ALL,
    EVEN,
    NOW,
    ODD,
    healthy,
    promotions,
    with_acknowledged,
    with_instance,
    with_route,
)

from failover.actions import (
    AssignPrimary,
    DemoteInstance,
    OperationOutcome,
    PromoteUnit,
    RequestApproval,
    ResolveOperation,
)
from failover.plan import Decision, OutcomeKind, decide
from failover.snapshot import (
    Approval,
    FailoverRecord,
    InFlightPromotion,
    InstanceState,
    LeaseHolder,
    Role,
    Snapshot,
    UnitReplication,
)
from failover.topology import Topology, default_topology, parse_topology


def topology(**sections: dict[str, Any]) -> Topology:
    """The default topology with some sections (``policy``, ``replication``...) changed."""
    return parse_topology(
        {
            "sites": [
                {"name": "production", "city": "city-a", "role": "active"},
                {"name": "same-city", "city": "city-a", "role": "active"},
                {"name": "remote-dr", "city": "city-b", "role": "dr"},
            ],
            **sections,
        }
    )


def sites_down(s: Snapshot, *sites: str, rounds: int = 3) -> Snapshot:
    """The observers inside ``sites`` fall silent; the others cannot reach those sites or
    anything in them for ``rounds`` rounds; the instances there stop answering."""
    reports = {}
    for observer, r in s.observer_reports.items():
        if observer in sites:
            reports[observer] = replace(r, reported_at=NOW - 60)
            continue
        reports[observer] = replace(
            r,
            site_failures={t: rounds if t in sites else c for t, c in r.site_failures.items()},
            instance_failures={
                k: rounds if k[1] in sites else c for k, c in r.instance_failures.items()
            },
        )
    instances = {k: InstanceState(False) if k[1] in sites else v for k, v in s.instances.items()}
    return replace(s, observer_reports=reports, instances=instances)


def leases_expired(s: Snapshot, *sites: str) -> Snapshot:
    """The primary leases held in ``sites`` have expired (their keys are gone)."""
    return replace(s, leases={u: h for u, h in s.leases.items() if h.site not in sites})


def partition(s: Snapshot, a: str, b: str, rounds: int = 30) -> Snapshot:
    """``a`` and ``b`` cannot reach each other (sites and instances); nobody else is hurt."""
    cut = {a: b, b: a}
    reports = {}
    for observer, r in s.observer_reports.items():
        other = cut.get(observer)
        reports[observer] = replace(
            r,
            site_failures={t: rounds if t == other else c for t, c in r.site_failures.items()},
            instance_failures={
                k: rounds if k[1] == other else c for k, c in r.instance_failures.items()
            },
        )
    return replace(s, observer_reports=reports)


def instance_dead(s: Snapshot, unit: str, site: str, rounds: int = 3) -> Snapshot:
    """Every observer fails to reach ``unit`` in ``site``; the instance does not answer."""
    reports = {
        o: replace(r, instance_failures={**r.instance_failures, (unit, site): rounds})
        for o, r in s.observer_reports.items()
    }
    instances = {**s.instances, (unit, site): InstanceState(False)}
    return replace(s, observer_reports=reports, instances=instances)


def requests(decision: Decision) -> dict[str, RequestApproval]:
    return {a.unit: a for a in decision.actions if isinstance(a, RequestApproval)}


def production_outage() -> Snapshot:
    return leases_expired(sites_down(healthy(), "production"), "production")


# --- steady state and site outages -----------------------------------------------------------


def test_a_healthy_system_takes_no_action() -> None:
    decision = decide(healthy())
    assert decision.actions == ()
    assert decision.summary == "no action: 3/3 sites healthy"


def test_production_down_fails_its_units_over_to_same_city_without_loss() -> None:
    decision = decide(production_outage())
    assert decision.summary == (
        "failing over u00,u02,u04,u06 production→same-city: "
        "quorum 2/3 saw production down for 3 rounds"
    )
    moves = promotions(decision)
    assert set(moves) == set(EVEN)
    for move in moves.values():
        assert (move.from_site, move.to_site) == ("production", "same-city")
        assert (move.expected_epoch, move.new_epoch) == (1, 2)
        assert not move.data_losing
        assert move.accepted_loss == 0
        assert move.approval_id is None


def test_same_city_down_fails_its_units_over_to_production() -> None:
    snapshot = leases_expired(sites_down(healthy(), "same-city"), "same-city")
    moves = promotions(decide(snapshot))
    assert set(moves) == set(ODD)
    assert {m.to_site for m in moves.values()} == {"production"}


def test_remote_dr_down_takes_no_action_because_it_holds_no_primaries() -> None:
    snapshot = replace(healthy(), controller="production", leader="production")
    decision = decide(sites_down(snapshot, "remote-dr"))
    assert decision.actions == ()
    assert decision.summary == (
        "no action: 2/3 sites healthy (remote-dr down and holds no primaries: "
        "quorum 2/3 saw remote-dr down for 3 rounds)"
    )


def test_fewer_failed_rounds_than_failure_rounds_take_no_action() -> None:
    snapshot = leases_expired(sites_down(healthy(), "production", rounds=2), "production")
    decision = decide(snapshot)
    assert promotions(decision) == {}
    # Nothing moves yet, and the sentence says so without calling anything healthy.
    assert decision.summary.startswith(
        "waiting: u00,u02,u04,u06 has no writable primary in production yet: "
        "its instance does not answer (production suspect"
    )
    assert "healthy" not in decision.summary


def test_a_hung_site_counts_as_down_once_the_quorum_sees_its_probes_time_out() -> None:
    # A hung site accepts TCP and never answers: its observer stops reporting and every
    # probe of it times out, which the observers count as failed rounds.
    hung = leases_expired(sites_down(healthy(), "production", rounds=5), "production")
    assert set(promotions(decide(hung))) == set(EVEN)


# --- partitions and stale observers ----------------------------------------------------------


@pytest.mark.parametrize("leases_gone", [False, True])
def test_partition_between_city_sites_never_fails_over(leases_gone: bool) -> None:
    snapshot = partition(healthy(), "production", "same-city")
    if leases_gone:
        snapshot = replace(snapshot, leases={})
    decision = decide(snapshot)
    assert decision.actions == ()
    if leases_gone:
        # Primaries without their lease key cannot write: the sentence must not hide it.
        assert decision.summary.startswith("waiting: u00,u02,u04,u06 has no writable primary")
        assert "(production suspect" in decision.summary
    else:
        assert decision.summary.startswith("no action: 1/3 sites healthy (production suspect")


def test_a_stale_witness_leaves_a_lone_observers_verdict_to_a_person() -> None:
    snapshot = production_outage()
    witness = snapshot.observer_reports["remote-dr"]
    snapshot = replace(
        snapshot,
        observer_reports={
            **snapshot.observer_reports,
            "remote-dr": replace(witness, reported_at=NOW - 60),
        },
    )
    decision = decide(snapshot)
    assert promotions(decision) == {}
    asked = requests(decision)
    assert set(asked) == set(EVEN)
    assert {a.to_site for a in asked.values()} == {"same-city"}
    assert "production unconfirmed: only same-city still reports" in decision.summary


def test_one_observer_seeing_a_site_down_while_the_witness_is_silent_never_fails_over() -> None:
    snapshot = healthy()
    reports = dict(snapshot.observer_reports)
    reports["remote-dr"] = replace(reports["remote-dr"], reported_at=NOW - 60)
    lone = reports["same-city"]
    reports["same-city"] = replace(
        lone,
        site_failures={**lone.site_failures, "production": 5},
        instance_failures={
            k: 5 if k[1] == "production" else c for k, c in lone.instance_failures.items()
        },
    )
    snapshot = leases_expired(replace(snapshot, observer_reports=reports), "production")
    decision = decide(snapshot)
    assert promotions(decision) == {}
    assert set(requests(decision)) == set(EVEN)


def test_no_fresh_observers_at_all_take_no_action() -> None:
    snapshot = replace(healthy(), now=NOW + 600, leases={})
    decision = decide(snapshot)
    assert decision.actions == ()
    assert "(production unknown" in decision.summary


# --- leases ----------------------------------------------------------------------------------


def test_failover_waits_while_the_old_primary_still_holds_its_lease_key() -> None:
    snapshot = healthy()
    snapshot = with_route(snapshot, "u01", "same-city", 4)
    snapshot = replace(snapshot, leases={**snapshot.leases, "u01": LeaseHolder("same-city", 4)})
    snapshot = sites_down(snapshot, "same-city")
    snapshot = replace(snapshot, leases={"u01": LeaseHolder("same-city", 4)})
    decision = decide(snapshot)
    assert "u01" not in promotions(decision)
    assert "waiting: u01 lease key still held by same-city (epoch 4)" in decision.summary
    assert set(promotions(decision)) == {"u03", "u05", "u07"}


# --- data-losing promotions and approvals ----------------------------------------------------


def test_a_lagging_sync_standby_needs_an_approval_naming_the_loss() -> None:
    snapshot = with_acknowledged(production_outage(), "u00", 100)
    snapshot = with_instance(snapshot, "u00", "same-city", applied_lsn=88)
    decision = decide(snapshot)
    assert "u00" not in promotions(decision)
    request = requests(decision)["u00"]
    assert (request.to_site, request.estimated_loss, request.data_losing) == ("same-city", 12, True)
    assert "requesting approval to promote u00 in same-city (loss of at least 12 entries)" in (
        decision.summary
    )


def test_a_city_standby_behind_the_remote_one_is_caught_up_from_it_then_promoted() -> None:
    snapshot = with_acknowledged(production_outage(), "u02", 40)
    snapshot = with_instance(snapshot, "u02", "same-city", applied_lsn=25, last_entry_epoch=1)
    snapshot = with_instance(snapshot, "u02", "remote-dr", applied_lsn=40, last_entry_epoch=1)
    decision = decide(snapshot)
    move = promotions(decision)["u02"]
    assert (move.to_site, move.data_losing, move.approval_id) == ("same-city", False, None)
    assert (move.catch_up_from, move.catch_up_to) == ("remote-dr", 40)
    assert "caught up from remote-dr to lsn 40 first" in decision.summary


def test_a_copy_with_a_newer_last_epoch_outranks_a_longer_one() -> None:
    snapshot = production_outage()
    snapshot = with_instance(snapshot, "u02", "same-city", applied_lsn=30, last_entry_epoch=1)
    snapshot = with_instance(snapshot, "u02", "remote-dr", applied_lsn=28, last_entry_epoch=2)
    snapshot = with_route(snapshot, "u02", "production", 2)
    snapshot = with_instance(snapshot, "u02", "same-city", epoch=2)
    snapshot = with_instance(snapshot, "u02", "remote-dr", epoch=2)
    move = promotions(decide(snapshot))["u02"]
    assert (move.to_site, move.catch_up_from, move.catch_up_to) == ("same-city", "remote-dr", 28)


def test_a_standby_whose_position_cannot_be_learned_makes_any_promotion_data_losing() -> None:
    snapshot = instance_dead(production_outage(), "u04", "remote-dr")
    decision = decide(snapshot)
    assert "u04" not in promotions(decision)
    request = requests(decision)["u04"]
    assert (request.to_site, request.data_losing) == ("same-city", True)
    assert "the position of remote-dr cannot be learned" in decision.summary


def test_an_up_to_date_city_standby_is_promoted_without_a_catch_up() -> None:
    snapshot = with_acknowledged(production_outage(), "u06", 9)
    for site in ("same-city", "remote-dr"):
        snapshot = with_instance(snapshot, "u06", site, applied_lsn=9, last_entry_epoch=1)
    move = promotions(decide(snapshot))["u06"]
    assert (move.to_site, move.catch_up_from, move.data_losing) == ("same-city", None, False)


def test_the_policy_may_allow_data_losing_failover_to_a_lagging_sync_standby() -> None:
    topo = topology(replication={"allow_data_losing_failover": True})
    snapshot = leases_expired(sites_down(healthy(topo), "production"), "production")
    snapshot = with_acknowledged(snapshot, "u00", 100)
    snapshot = with_instance(snapshot, "u00", "same-city", applied_lsn=95)
    move = promotions(decide(snapshot))["u00"]
    assert (move.to_site, move.data_losing, move.accepted_loss) == ("same-city", True, 5)


def both_city_sites_down(topo: Topology | None = None) -> Snapshot:
    snapshot = sites_down(healthy(topo), "production", "same-city")
    snapshot = replace(snapshot, leases={})
    snapshot = with_acknowledged(snapshot, "u03", 112)
    return with_instance(snapshot, "u03", "remote-dr", applied_lsn=100)


def test_both_city_sites_down_ask_for_approval_to_promote_remote_dr() -> None:
    decision = decide(both_city_sites_down())
    assert promotions(decision) == {}
    asked = requests(decision)
    assert set(asked) == set(ALL)
    assert {a.to_site for a in asked.values()} == {"remote-dr"}
    assert asked["u03"].estimated_loss == 12
    assert asked["u03"].data_losing


def test_a_pending_approval_is_awaited_not_asked_again() -> None:
    pending = Approval("a-17", "u03", "remote-dr", 1, 12, granted=False)
    decision = decide(replace(both_city_sites_down(), approvals=(pending,)))
    assert "u03" not in requests(decision)
    assert (
        "awaiting approval a-17 to promote u03 in remote-dr (accepting loss of 12 entries)"
        in decision.summary
    )


def test_a_granted_approval_promotes_remote_dr_and_records_the_accepted_loss() -> None:
    granted = Approval("a-17", "u03", "remote-dr", 1, 12, granted=True)
    decision = decide(replace(both_city_sites_down(), approvals=(granted,)))
    move = promotions(decision)["u03"]
    assert (move.to_site, move.new_epoch, move.approval_id) == ("remote-dr", 2, "a-17")
    assert (move.data_losing, move.accepted_loss) == (True, 12)
    assert "failing over u03 same-city→remote-dr with approval a-17" in decision.summary
    # No other site is up to hold a second copy: it acknowledges on its own site alone.
    assert move.acks_required == 0
    assert "acknowledging writes on one site until a failback" in decision.summary


def test_a_unit_that_ran_on_one_site_fails_over_only_with_a_person() -> None:
    snapshot = production_outage()
    one_copy = {**snapshot.replication, "u00": UnitReplication(0, one_copy=True)}
    decision = decide(replace(snapshot, replication=one_copy))
    assert "u00" not in promotions(decision)
    assert requests(decision)["u00"].data_losing
    assert "acknowledged writes on its own site alone" in decision.summary
    assert promotions(decision)["u02"].acks_required is None


def test_an_approval_for_less_loss_than_now_estimated_is_not_enough() -> None:
    granted = Approval("a-17", "u03", "remote-dr", 1, 11, granted=True)
    decision = decide(replace(both_city_sites_down(), approvals=(granted,)))
    assert "u03" not in promotions(decision)
    assert requests(decision)["u03"].estimated_loss == 12


def test_an_approval_for_an_older_epoch_no_longer_applies() -> None:
    granted = Approval("a-9", "u03", "remote-dr", 0, 100, granted=True)
    decision = decide(replace(both_city_sites_down(), approvals=(granted,)))
    assert "u03" not in promotions(decision)


def test_remote_dr_is_promoted_automatically_only_when_the_policy_says_so() -> None:
    def outage(topo: Topology) -> Snapshot:
        snapshot = production_outage()
        snapshot = replace(snapshot, topology=topo)
        return instance_dead(snapshot, "u00", "same-city")

    default = decide(outage(default_topology()))
    assert "u00" not in promotions(default)
    assert requests(default)["u00"].to_site == "remote-dr"
    allowed = decide(outage(topology(policy={"remote_dr_auto_promotion": True})))
    move = promotions(allowed)["u00"]
    assert (move.to_site, move.data_losing, move.approval_id) == ("remote-dr", True, None)


@pytest.mark.parametrize(
    "fields",
    [
        {"role": Role.FENCED},
        {"role": None},
        {"epoch": 2},
        {"applied_lsn": None},
        {"reachable": False},
    ],
)
def test_a_standby_that_cannot_prove_it_is_fit_is_never_promoted(fields: dict[str, Any]) -> None:
    snapshot = with_instance(production_outage(), "u00", "same-city", **fields)
    decision = decide(snapshot)
    assert "u00" not in promotions(decision)
    assert requests(decision)["u00"].to_site == "remote-dr"


def test_no_promotion_when_no_standby_is_fit() -> None:
    snapshot = instance_dead(production_outage(), "u00", "same-city")
    snapshot = instance_dead(snapshot, "u00", "remote-dr")
    decision = decide(snapshot)
    assert "u00" not in promotions(decision)
    assert "u00" not in requests(decision)
    assert "cannot fail over u00" in decision.summary


# --- safety rails ----------------------------------------------------------------------------


def test_a_frozen_controller_reports_what_it_would_do_and_does_nothing() -> None:
    decision = decide(replace(production_outage(), frozen=True))
    assert decision.actions == ()
    assert decision.summary.startswith("frozen: automatic actions suspended; would be failing over")
    assert {a.unit for a in decision.suspended if isinstance(a, PromoteUnit)} == set(EVEN)


def test_a_controller_that_is_not_the_leader_stands_by() -> None:
    decision = decide(replace(production_outage(), leader="same-city"))
    assert decision.actions == ()
    assert (
        decision.summary == "standing by: remote-dr is not the leader (same-city holds the lease)"
    )


def test_failovers_past_the_hourly_limit_are_refused_and_left_to_a_person() -> None:
    history = tuple(
        FailoverRecord("u00", NOW - ago, "same-city", "production", epoch)
        for epoch, ago in ((1, 3000.0), (1, 2000.0), (1, 100.0))
    )
    decision = decide(replace(production_outage(), failovers=history))
    assert "u00" not in promotions(decision)
    assert set(promotions(decision)) == {"u02", "u04", "u06"}
    assert (
        "requesting approval to promote u00 in same-city (loss of at least 0 entries): quorum 2/3 "
        "saw production down for 3 rounds, but u00 is rate-limited: 3 failovers in the last hour "
        "(limit 3)"
    ) in decision.summary
    assert requests(decision)["u00"].estimated_loss == 0


def test_failovers_older_than_an_hour_do_not_count_against_the_limit() -> None:
    history = tuple(
        FailoverRecord("u00", NOW - 3601 - i, "same-city", "production", 1) for i in range(5)
    )
    assert "u00" in promotions(decide(replace(production_outage(), failovers=history)))


def test_never_promotes_into_a_site_the_quorum_saw_down_even_if_its_instance_answers() -> None:
    # same-city's etcd member and router are unreachable (site down by quorum), yet the
    # u00 standby there still answers every probe: a gray failure, not a place to move to.
    snapshot = production_outage()
    reports = {
        o: replace(r, site_failures={**r.site_failures, "same-city": 4})
        for o, r in snapshot.observer_reports.items()
    }
    decision = decide(replace(snapshot, observer_reports=reports))
    assert promotions(decision) == {}
    assert {r.to_site for r in requests(decision).values()} == {"remote-dr"}


def test_never_promotes_into_a_site_that_is_down() -> None:
    snapshot = sites_down(healthy(), "production", "remote-dr")
    snapshot = leases_expired(snapshot, "production")
    decision = decide(snapshot)
    assert all(m.to_site == "same-city" for m in promotions(decision).values())


# --- a unit's primary instance alone -------------------------------------------------------


def test_a_dead_primary_instance_in_a_healthy_site_is_failed_over_alone() -> None:
    snapshot = instance_dead(healthy(), "u05", "same-city")
    snapshot = replace(snapshot, leases={u: h for u, h in snapshot.leases.items() if u != "u05"})
    decision = decide(snapshot)
    assert list(promotions(decision)) == ["u05"]
    assert decision.summary == (
        "failing over u05 same-city→production: quorum 3/3 could not reach the u05 instance "
        "in same-city for 3 rounds while same-city is up"
    )


def test_a_primary_instance_only_one_observer_cannot_reach_is_not_failed_over() -> None:
    snapshot = healthy()
    lonely = snapshot.observer_reports["production"]
    failures = {**lonely.instance_failures, ("u05", "same-city"): 9}
    snapshot = replace(
        snapshot,
        observer_reports={
            **snapshot.observer_reports,
            "production": replace(lonely, instance_failures=failures),
        },
        leases={},
    )
    assert decide(snapshot).actions == ()


# --- a primary that stopped writing where it is -------------------------------------------


@pytest.mark.parametrize(
    ("role", "lost"),
    [(Role.FENCED, "fenced itself after its lease lapsed"), (Role.STANDBY, "restarted")],
)
def test_a_primary_that_stopped_writing_is_re_promoted_in_place(role: Role, lost: str) -> None:
    snapshot = with_instance(healthy(), "u02", "production", role=role)
    snapshot = replace(snapshot, leases={u: h for u, h in snapshot.leases.items() if u != "u02"})
    decision = decide(snapshot)
    move = promotions(decision)["u02"]
    assert (move.from_site, move.to_site, move.new_epoch) == ("production", "production", 2)
    assert not move.data_losing
    assert decision.summary == f"re-promoting u02 in production at epoch 2: its primary {lost}"


def test_a_fenced_primary_waits_for_its_lease_key_to_expire() -> None:
    snapshot = with_instance(healthy(), "u02", "production", role=Role.FENCED)
    decision = decide(snapshot)
    assert decision.actions == ()
    assert decision.summary == "waiting: u02 lease key still held by production (epoch 1)"


def test_a_fenced_primary_behind_the_acknowledged_position_is_left_to_a_person() -> None:
    snapshot = with_instance(healthy(), "u02", "production", role=Role.FENCED, applied_lsn=5)
    snapshot = with_acknowledged(replace(snapshot, leases={}), "u02", 9)
    decision = decide(snapshot)
    assert decision.actions == ()
    assert "cannot re-promote u02 in production" in decision.summary
    assert "4 entries behind" in decision.summary


def test_re_promotions_in_place_do_not_count_against_the_failover_limit() -> None:
    history = tuple(
        FailoverRecord("u00", NOW - 60, "production", "production", e) for e in range(1, 6)
    )
    assert "u00" in promotions(decide(replace(production_outage(), failovers=history)))


# --- after a failover ------------------------------------------------------------------------


def test_an_old_primary_that_comes_back_is_demoted_to_the_current_epoch() -> None:
    snapshot = with_route(healthy(), "u00", "same-city", 2)
    snapshot = with_instance(snapshot, "u00", "same-city", role=Role.PRIMARY, epoch=2)
    decision = decide(snapshot)
    assert decision.actions == (
        DemoteInstance(
            "u00",
            "production",
            2,
            "demoting u00 in production: stale primary (epoch 1), route is same-city epoch 2",
        ),
    )
    assert decision.summary == (
        "demoting u00 in production: stale primary (epoch 1), route is same-city epoch 2"
    )


def test_a_unit_being_failed_over_is_demoted_only_after_its_move_committed() -> None:
    snapshot = with_instance(production_outage(), "u00", "remote-dr", role=Role.PRIMARY, epoch=1)
    decision = decide(snapshot)
    assert promotions(decision)["u00"].new_epoch == 2
    assert not [a for a in decision.actions if isinstance(a, DemoteInstance)]
    after = with_route(replace(snapshot, in_flight=()), "u00", "same-city", 2)
    after = with_instance(after, "u00", "same-city", role=Role.PRIMARY, epoch=2)
    demotes = [a for a in decide(after).actions if isinstance(a, DemoteInstance)]
    assert [(d.unit, d.site, d.epoch) for d in demotes] == [("u00", "remote-dr", 2)]


def test_a_primary_ahead_of_its_route_is_flagged_not_touched() -> None:
    snapshot = with_instance(healthy(), "u00", "same-city", role=Role.PRIMARY, epoch=7)
    decision = decide(snapshot)
    assert decision.actions == ()
    assert decision.summary.startswith("anomaly: u00 in same-city says primary at epoch 7")


def test_a_unit_without_a_route_is_an_anomaly_not_a_crash() -> None:
    snapshot = healthy()
    snapshot = replace(snapshot, routes={u: r for u, r in snapshot.routes.items() if u != "u04"})
    decision = decide(snapshot)
    assert decision.actions == ()
    assert decision.summary.startswith("anomaly: u04 has no route")


# --- crash recovery --------------------------------------------------------------------------

PROMOTING_U00 = InFlightPromotion("op-1", "u00", "production", "same-city", 1, 2, NOW - 5)


def test_an_uncommitted_promotion_is_rolled_back_and_decided_afresh() -> None:
    decision = decide(replace(production_outage(), in_flight=(PROMOTING_U00,)))
    resolved = [a for a in decision.actions if isinstance(a, ResolveOperation)]
    assert [(r.operation_id, r.outcome) for r in resolved] == [
        ("op-1", OperationOutcome.ROLLED_BACK)
    ]
    assert promotions(decision)["u00"].new_epoch == 2
    assert decision.summary.startswith(
        "rolling back promotion of u00 to same-city epoch 2: route still at production epoch 1"
    )


def test_a_committed_promotion_whose_primary_was_not_told_is_completed() -> None:
    snapshot = with_route(production_outage(), "u00", "same-city", 2)
    decision = decide(replace(snapshot, in_flight=(PROMOTING_U00,)))
    assigned = [a for a in decision.actions if isinstance(a, AssignPrimary)]
    assert [(a.unit, a.site, a.epoch, a.operation_id) for a in assigned] == [
        ("u00", "same-city", 2, "op-1")
    ]
    assert "u00" not in promotions(decision)
    assert "completing promotion of u00 to same-city epoch 2" in decision.summary


def test_a_committed_promotion_the_new_primary_confirms_is_closed() -> None:
    snapshot = with_route(production_outage(), "u00", "same-city", 2)
    snapshot = with_instance(snapshot, "u00", "same-city", role=Role.PRIMARY, epoch=2)
    decision = decide(replace(snapshot, in_flight=(PROMOTING_U00,)))
    resolved = [a for a in decision.actions if isinstance(a, ResolveOperation)]
    assert [r.outcome for r in resolved] == [OperationOutcome.COMPLETED]
    assert "u00" not in promotions(decision)


def test_a_promotion_overtaken_by_a_later_move_is_closed_as_superseded() -> None:
    snapshot = with_route(healthy(), "u00", "remote-dr", 3)
    snapshot = with_instance(snapshot, "u00", "remote-dr", role=Role.PRIMARY, epoch=3)
    snapshot = with_instance(snapshot, "u00", "production", role=Role.STANDBY)
    decision = decide(replace(snapshot, in_flight=(PROMOTING_U00,)))
    resolved = [a for a in decision.actions if isinstance(a, ResolveOperation)]
    assert [r.outcome for r in resolved] == [OperationOutcome.SUPERSEDED]


def test_only_the_newest_in_flight_promotion_of_a_unit_is_acted_on() -> None:
    older = InFlightPromotion("op-0", "u00", "production", "same-city", 1, 2, NOW - 50)
    snapshot = with_route(production_outage(), "u00", "same-city", 2)
    decision = decide(replace(snapshot, in_flight=(PROMOTING_U00, older)))
    resolved = {
        a.operation_id: a.outcome for a in decision.actions if isinstance(a, ResolveOperation)
    }
    assert resolved == {"op-0": OperationOutcome.SUPERSEDED}
    assert [a.operation_id for a in decision.actions if isinstance(a, AssignPrimary)] == ["op-1"]


def test_a_committed_promotion_waits_while_the_new_primary_is_silent() -> None:
    snapshot = with_route(production_outage(), "u00", "same-city", 2)
    snapshot = with_instance(snapshot, "u00", "same-city", reachable=False)
    decision = decide(replace(snapshot, in_flight=(PROMOTING_U00,)))
    assert not [a for a in decision.actions if a.unit == "u00"]
    assert "waiting: u00 promotion to same-city epoch 2 committed" in decision.summary


def test_outcomes_carry_their_kind_for_the_status_endpoint() -> None:
    decision = decide(production_outage())
    assert {o.kind for o in decision.outcomes} == {OutcomeKind.FAILING_OVER}
    assert decision.sites["production"].down


def test_an_approved_promotion_runs_alone_only_when_no_other_copy_answers() -> None:
    granted = Approval("a-3", "u00", "remote-dr", 1, 0, granted=True)
    snapshot = instance_dead(production_outage(), "u00", "same-city")
    alone = promotions(decide(replace(snapshot, approvals=(granted,))))["u00"]
    assert (alone.to_site, alone.acks_required) == ("remote-dr", 0)
    # With same-city's copy answering (a standby that is merely unfit, e.g. fenced),
    # the new primary keeps the ordinary rule: that copy can acknowledge.
    snapshot = with_instance(production_outage(), "u00", "same-city", role=Role.FENCED)
    kept = promotions(decide(replace(snapshot, approvals=(granted,))))["u00"]
    assert (kept.to_site, kept.acks_required) == ("remote-dr", None)
