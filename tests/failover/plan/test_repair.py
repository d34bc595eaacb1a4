"""Self-healing: a unit whose routed instance drifted from its route is repaired or named.

The drift an operator's (or a tool's) wrong ``POST /admin/role`` leaves behind: the routed
instance at another epoch than its route's, in any role. The decision repairs it in place
when that loses nothing, and until it acts it never calls the unit healthy.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st
from plan_scenarios import (
    NOW,
    healthy,
    promotions,
    with_acknowledged,
    with_instance,
    with_route,
)

from failover.actions import DemoteInstance, PromoteUnit
from failover.plan import decide
from failover.plan.repair import BEHIND_CYCLES_NEEDED, LAPSED_CYCLES_NEEDED
from failover.snapshot import InFlightPromotion, LeaseHolder, Role, Snapshot


def knocked(role: Role, epoch: int, *, seen: int = 0, lease: bool = False) -> Snapshot:
    """u00's routed instance (production, route epoch 1) knocked to ``role`` at ``epoch``,
    already seen drifted for ``seen`` earlier cycles; its lease key is gone unless
    ``lease`` (then held at its own epoch, as a primary re-taking it would)."""
    snapshot = with_instance(healthy(), "u00", "production", role=role, epoch=epoch)
    leases = {u: h for u, h in snapshot.leases.items() if u != "u00"}
    if lease:
        leases["u00"] = LeaseHolder("production", epoch)
    return replace(snapshot, leases=leases, lapsed_cycles={"u00": seen} if seen else {})


def test_a_routed_primary_knocked_to_standby_ahead_of_its_route_is_named_at_once() -> None:
    decision = decide(knocked(Role.STANDBY, 2))
    assert decision.actions == ()
    assert decision.summary == (
        "waiting: u00 has no writable primary in production yet: "
        "its instance says standby at epoch 2, its route 1"
    )
    assert decision.lapsed_cycles == {"u00": 1}


def test_a_routed_primary_knocked_to_standby_ahead_of_its_route_is_re_promoted_above_both() -> None:
    decision = decide(knocked(Role.STANDBY, 2, seen=LAPSED_CYCLES_NEEDED - 1))
    move = promotions(decision)["u00"]
    assert (move.from_site, move.to_site, move.expected_epoch, move.new_epoch) == (
        "production", "production", 1, 3,
    )  # fmt: skip
    assert not move.data_losing
    assert decision.summary == (
        "re-promoting u00 in production at epoch 3: "
        "it says standby at epoch 2 while its route is at epoch 1"
    )
    assert "u00" not in decision.lapsed_cycles


def test_a_routed_primary_at_a_foreign_epoch_is_stepped_down_at_its_own_epoch_first() -> None:
    decision = decide(knocked(Role.PRIMARY, 7, seen=LAPSED_CYCLES_NEEDED, lease=True))
    assert decision.actions == (
        DemoteInstance(
            "u00", "production", 7,
            "stepping down u00 in production at epoch 7: it says primary at epoch 7 while "
            "its route is at epoch 1; re-promoting it next",
        ),
    )  # fmt: skip
    assert decision.lapsed_cycles == {"u00": LAPSED_CYCLES_NEEDED + 1}


def test_a_drifted_standby_still_holding_a_lease_key_waits_for_it() -> None:
    decision = decide(knocked(Role.STANDBY, 4, seen=LAPSED_CYCLES_NEEDED, lease=True))
    assert decision.actions == ()
    assert decision.summary == "waiting: u00 lease key still held by production (epoch 4)"


def test_a_drifted_instance_behind_the_acknowledged_position_is_left_to_a_person() -> None:
    snapshot = with_instance(knocked(Role.FENCED, 3, seen=9), "u00", "production", applied_lsn=2)
    decision = decide(with_acknowledged(snapshot, "u00", 6))
    assert decision.actions == ()
    assert [o.unit for o in decision.anomalies] == ["u00"]
    assert "it is 4 entries behind; a person must look" in decision.summary


def test_an_instance_seen_behind_its_route_right_after_a_move_is_given_time() -> None:
    # The route moved in place to epoch 2; the observers still show the old fenced view.
    snapshot = with_route(knocked(Role.FENCED, 1), "u00", "production", 2)
    # ``seen`` counts earlier cycles; this cycle makes it seen + 1.
    for seen in range(BEHIND_CYCLES_NEEDED - 1):
        decision = decide(replace(snapshot, lapsed_cycles={"u00": seen} if seen else {}))
        assert decision.actions == (), seen
    decision = decide(replace(snapshot, lapsed_cycles={"u00": BEHIND_CYCLES_NEEDED - 1}))
    assert promotions(decision)["u00"].new_epoch == 3


def test_a_primary_without_its_lease_key_is_re_promoted_after_enough_cycles() -> None:
    before = decide(knocked(Role.PRIMARY, 1, seen=LAPSED_CYCLES_NEEDED - 2))
    assert before.actions == ()
    assert "u00 has no writable primary in production yet" in before.summary
    after = decide(knocked(Role.PRIMARY, 1, seen=LAPSED_CYCLES_NEEDED - 1))
    assert promotions(after)["u00"].new_epoch == 2
    assert "lost its lease key" in after.summary


def test_a_unit_with_a_promotion_in_flight_is_never_counted_as_drifted() -> None:
    op = InFlightPromotion("op-1", "u00", "same-city", "production", 0, 1, NOW - 1)
    snapshot = replace(knocked(Role.STANDBY, 2, seen=LAPSED_CYCLES_NEEDED), in_flight=(op,))
    decision = decide(snapshot)
    assert "u00" not in decision.lapsed_cycles
    assert not promotions(decision)


def test_a_routed_instance_that_does_not_answer_is_never_called_healthy() -> None:
    snapshot = with_instance(healthy(), "u03", "same-city", reachable=False)
    decision = decide(snapshot)
    assert decision.actions == ()
    assert decision.summary == (
        "waiting: u03 has no writable primary in same-city yet: its instance does not answer"
    )


@given(
    role=st.sampled_from([Role.PRIMARY, Role.STANDBY, Role.FENCED]),
    epoch=st.integers(min_value=0, max_value=50),
    seen=st.integers(min_value=0, max_value=2 * BEHIND_CYCLES_NEEDED),
    lease=st.booleans(),
)
def test_a_drift_repair_never_moves_a_unit_and_always_outranks_the_instance_epoch(
    role: Role, epoch: int, seen: int, lease: bool
) -> None:
    decision = decide(knocked(role, epoch, seen=seen, lease=lease))
    for action in decision.actions:
        if isinstance(action, PromoteUnit):
            # The instance refuses an epoch at or below its own; a move would be a failover.
            assert action.to_site == action.from_site == "production"
            assert action.new_epoch > max(epoch, 1)
            assert not lease
        else:
            assert isinstance(action, DemoteInstance)
            assert (action.site, action.epoch) == ("production", epoch)
    if role is not Role.PRIMARY or epoch != 1 or not lease:
        assert "healthy" not in decision.summary


@pytest.mark.parametrize("epoch", [1, 5])
def test_a_healthy_primary_at_its_route_epoch_is_left_alone(epoch: int) -> None:
    snapshot = with_route(healthy(), "u00", "production", epoch)
    snapshot = with_instance(snapshot, "u00", "production", epoch=epoch)
    leases = {**snapshot.leases, "u00": LeaseHolder("production", epoch)}
    snapshot = replace(snapshot, leases=leases)
    decision = decide(snapshot)
    assert decision.actions == ()
    assert decision.summary == "no action: 3/3 sites healthy"
