"""Measurements from synthetic client evidence: RTO, write interruptions, RPO, double
posting, split brain, failovers, detection, request counts and series."""

from __future__ import annotations

from dataclasses import replace

import pytest
from drill_factory import (
    UNITS,
    action,
    clean_failover,
    fail,
    failing,
    found,
    ok,
    steady,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from drills.attempt_stats import per_second, percentile
from drills.attempts import Attempt, ReadBack, ReadBackResult
from drills.controller_event import ControllerEvent
from drills.measure import measure
from drills.recovery import (
    failed_stretches,
    interruption_per_unit,
    rto_per_unit,
    unit_interruption,
    unit_rto,
)

FAULT = [action(10.0, "site-down production")]
EVEN = ["u00", "u02", "u04", "u06"]


def test_clean_failover_measures_rto_of_the_affected_units_only() -> None:
    attempts = clean_failover(fault_at=10.0, back_at=16.0)
    m = measure(attempts, found(attempts), FAULT)
    assert sorted(m.rto_by_unit) == EVEN
    assert all(rto == pytest.approx(6.02) for rto in m.rto_by_unit.values())
    assert m.rto_seconds == pytest.approx(6.02)
    assert m.rpo_lost_acknowledged == 0
    assert not m.split_brain
    assert m.failovers == 4
    assert m.units_moved == tuple(EVEN)
    assert m.double_posted_keys == ()


def test_rto_counts_from_when_the_fault_took_effect_not_when_the_runner_launched_it() -> None:
    attempts = clean_failover(fault_at=10.0, back_at=16.0)
    launched_early = [replace(action(7.0, "site-down production", until=10.2), took_effect_at=10.0)]
    m = measure(attempts, found(attempts), launched_early)
    assert m.fault_at == pytest.approx(10.0)
    assert m.rto_seconds == pytest.approx(6.02)


def test_flapping_unit_rto_runs_to_the_start_of_the_final_success_run() -> None:
    attempts = [
        *steady("u01", 0, 10),
        *failing("u01", 10, 12),
        *steady("u01", 12, 14, epoch=2, site="production"),  # looks recovered...
        fail("u01", 14.0, 503),  # ...but flaps once more
        *steady("u01", 15, 20, epoch=2, site="production"),
    ]
    affected, rto = unit_rto(attempts, 10.0)
    assert affected
    assert rto == pytest.approx(5.02)


def test_unit_that_never_recovers_has_no_rto_and_makes_the_drill_rto_unknown() -> None:
    attempts = clean_failover() + failing("u03", 10, 30)
    m = measure(attempts, found(attempts), FAULT)
    assert m.rto_by_unit["u03"] is None
    assert m.unrecovered_units == ("u03",)
    assert m.rto_seconds is None


def test_unit_never_failing_a_write_is_not_affected() -> None:
    attempts = steady("u05", 0, 30)
    assert unit_rto(attempts, 10.0) == (False, None)
    assert rto_per_unit(attempts, 10.0) == {}


def test_failures_before_the_fault_do_not_affect_a_unit() -> None:
    attempts = [fail("u05", 2.0), *steady("u05", 3, 30)]
    assert rto_per_unit(attempts, 10.0) == {}


def test_request_in_flight_at_the_fault_that_times_out_counts_as_affected() -> None:
    attempts = [
        *steady("u00", 0, 9.9),
        fail("u00", 9.9, "timeout", latency=2.0),  # sent before the fault, answered after
        *steady("u00", 12, 20, epoch=2, site="same-city"),
    ]
    affected, rto = unit_rto(attempts, 10.0)
    assert affected
    assert rto == pytest.approx(2.02)


def test_recovery_is_when_the_client_got_the_answer_not_when_it_asked() -> None:
    # A request sent into the outage that hangs, then succeeds, recovers the unit only
    # when its answer arrives.
    attempts = [fail("u00", 10.5, 503), ok("u00", 11.0, latency=4.0, epoch=2, site="same-city")]
    affected, rto = unit_rto(attempts, 10.0)
    assert affected
    assert rto == pytest.approx(5.0)


def test_no_fault_at_all_affects_nothing() -> None:
    attempts = [*steady("u00", 0, 10), fail("u00", 5.0)]
    m = measure(attempts, found(attempts), [action(20.0, "heal")])
    assert m.fault_at is None
    assert m.rto_by_unit == {}
    assert m.rto_seconds == 0.0
    assert m.detection_seconds is None
    assert m.requests.failed == 1


# --- write interruption -------------------------------------------------------------------


def test_a_unit_whose_writes_never_failed_was_interrupted_for_zero_seconds() -> None:
    attempts = [*steady("u01", 0, 20), *steady("u03", 0, 20)]
    assert interruption_per_unit(attempts) == {"u01": 0.0, "u03": 0.0}


def test_an_interruption_runs_from_the_first_failed_send_to_the_next_acknowledgement() -> None:
    attempts = [*steady("u00", 0, 10), *failing("u00", 10, 12), *steady("u00", 12, 20)]
    # first failure sent at 10.0; the first success after it, sent at 12.0, answered 12.02
    assert unit_interruption(attempts) == pytest.approx(2.02)


def test_the_longest_of_a_units_interruptions_is_its_interruption() -> None:
    attempts = [
        *steady("u01", 0, 5),
        *failing("u01", 5, 6),  # 1.02 s
        *steady("u01", 6, 10),
        *failing("u01", 10, 13),  # 3.02 s
        *steady("u01", 13, 16),
        fail("u01", 16.0),  # 0.27 s
        *steady("u01", 16.25, 20),
    ]
    stretches = failed_stretches(attempts)
    assert [s.started_at for s in stretches] == [5.0, 10.0, 16.0]
    assert [s.seconds for s in stretches] == pytest.approx([1.02, 3.02, 0.27])
    assert unit_interruption(attempts) == pytest.approx(3.02)


def test_recovery_is_the_earliest_answer_among_the_writes_sent_after_the_failures() -> None:
    # The failure's own answer (a timeout at 12.0) comes long after a later write, sent at
    # 10.5, was acknowledged at 10.52: the unit was back at 10.52.
    attempts = [ok("u00", 9.0), fail("u00", 10.0, "timeout", latency=2.0), ok("u00", 10.5)]
    assert unit_interruption(attempts) == pytest.approx(0.52)


def test_a_slow_success_sent_before_the_failure_does_not_end_the_interruption() -> None:
    # Sent at 9.9 and acknowledged at 11.0, it was written before the unit broke.
    attempts = [
        ok("u00", 9.9, latency=1.1),
        fail("u00", 10.0, 503),
        *failing("u00", 10.25, 12),
        ok("u00", 12.0),
    ]
    assert unit_interruption(attempts) == pytest.approx(2.02)


def test_an_interruption_counts_whether_or_not_a_fault_was_injected() -> None:
    attempts = [*steady("u02", 0, 2), *failing("u02", 2, 4), *steady("u02", 4, 10)]
    m = measure(attempts, found(attempts), [])
    assert m.rto_by_unit == {}
    assert m.interruption_by_unit == {"u02": pytest.approx(2.02)}
    assert m.longest_interruption_seconds == pytest.approx(2.02)


def test_a_unit_still_failing_at_its_last_attempt_has_an_unknown_interruption() -> None:
    attempts = [*steady("u03", 0, 10), *failing("u03", 10, 12), *steady("u05", 0, 12)]
    m = measure(attempts, found(attempts), FAULT)
    assert m.interruption_by_unit == {"u03": None, "u05": 0.0}
    assert m.longest_interruption_seconds is None
    assert m.unrecovered_units == ("u03",)


def test_every_unit_sent_to_gets_an_interruption_and_the_longest_is_their_max() -> None:
    m = measure(clean_failover(fault_at=10.0, back_at=16.0), [], FAULT)
    assert sorted(m.interruption_by_unit) == list(UNITS)
    assert all(m.interruption_by_unit[u] == pytest.approx(6.02) for u in EVEN)
    assert all(m.interruption_by_unit[u] == 0.0 for u in UNITS if u not in EVEN)
    assert m.longest_interruption_seconds == pytest.approx(6.02)


def test_a_unit_whose_primary_survived_is_judged_on_its_longest_interruption() -> None:
    # The even units moved (6.02 s each); of the survivors, u03 stalled for 1.52 s.
    attempts = [a for a in clean_failover() if not (a.unit == "u03" and 11.0 <= a.sent_at < 12.5)]
    attempts += failing("u03", 11.0, 12.5)
    m = measure(attempts, found(attempts), FAULT)
    assert m.units_moved == tuple(EVEN)
    assert m.survivors_interruption_seconds == pytest.approx(1.52)
    assert m.longest_interruption_seconds == pytest.approx(6.02)


def test_a_unit_the_controller_promoted_is_not_a_survivor_though_no_client_saw_it() -> None:
    attempts = [a for a in clean_failover() if not (a.unit == "u01" and 11.0 <= a.sent_at < 14.0)]
    attempts += failing("u01", 11.0, 14.0)
    events = [ControllerEvent(at=13.0, kind="promoted", unit="u01", site="production", epoch=2)]
    assert measure(attempts, [], FAULT).survivors_interruption_seconds == pytest.approx(3.02)
    assert measure(attempts, [], FAULT, events).survivors_interruption_seconds == 0.0


def test_survivors_interruption_is_zero_when_every_unit_moved_and_unknown_if_one_is_stuck() -> None:
    moved = [*steady("u00", 0, 5), *failing("u00", 5, 8), *steady("u00", 8, 12, epoch=2)]
    assert measure(moved, [], FAULT).survivors_interruption_seconds == 0.0
    stuck = [*moved, *steady("u01", 0, 10), *failing("u01", 10, 12)]
    assert measure(stuck, [], FAULT).survivors_interruption_seconds is None


def test_a_quick_success_after_a_later_failure_still_ends_the_earlier_interruption() -> None:
    # Answers overtake each other: the write sent at 10.3 is acknowledged at 10.32, while
    # the one sent at 10.1 hangs until 13.1. The unit acknowledged a write 0.32 s after
    # the first failure, not 3.1 s.
    attempts = [
        fail("u00", 10.0),
        ok("u00", 10.1, latency=3.0),
        fail("u00", 10.2),
        ok("u00", 10.3),
    ]
    assert [s.seconds for s in failed_stretches(attempts)] == pytest.approx([0.32, 0.12])


def test_rto_and_interruption_agree_on_when_a_unit_recovered() -> None:
    # One definition of "recovered": the RTO counts to it from the fault, the interruption
    # from the first failed send (here 0.5 s after the fault).
    attempts = [*steady("u00", 0, 10), *failing("u00", 10.5, 13), *steady("u00", 13, 20)]
    (_, rto), interruption = unit_rto(attempts, 10.0), unit_interruption(attempts)
    assert rto is not None and interruption is not None
    assert rto - interruption == pytest.approx(0.5)


def test_lost_acknowledged_writes_are_counted_as_rpo() -> None:
    attempts = clean_failover()
    acked = sorted({a.idempotency_key for a in attempts if a.ok})
    dropped = acked[3:6]
    m = measure(attempts, found(attempts, drop=dropped), FAULT)
    assert m.rpo_lost_acknowledged == 3
    assert sorted(k for _, k in m.lost_keys) == dropped


def test_a_write_never_read_back_counts_as_lost() -> None:
    attempts = steady("u00", 0, 2)
    read_backs = found(attempts)[1:]
    assert measure(attempts, read_backs, []).rpo_lost_acknowledged == 1


def test_a_write_read_back_with_different_content_counts_as_lost() -> None:
    attempts = steady("u00", 0, 2)
    read_backs = found(attempts)
    first = read_backs[0]
    read_backs[0] = ReadBack(
        first.customer_id, first.idempotency_key, ReadBackResult.DIFFERENT_CONTENT
    )
    m = measure(attempts, read_backs, [])
    assert m.rpo_lost_acknowledged == 1
    assert m.changed_keys == (first.key,)
    assert m.lost_keys == ()


def test_unacknowledged_writes_are_not_rpo() -> None:
    attempts = [fail("u00", 1.0, "timeout", latency=2.0)]
    assert measure(attempts, [], []).rpo_lost_acknowledged == 0


def test_two_acknowledgements_with_different_transaction_ids_are_double_posting() -> None:
    first = ok("u00", 1.0, key="dup", tid="tx-1")
    retry = ok("u00", 3.0, key="dup", tid="tx-2", attempt=2)
    m = measure([first, retry], found([first]), [])
    assert m.double_posted_keys == (("cust-u00", "dup"),)


def test_a_read_back_under_two_transaction_ids_is_double_posting() -> None:
    write = ok("u00", 1.0, key="dup", tid="tx-1")
    read_back = ReadBack("cust-u00", "dup", ReadBackResult.FOUND, ("tx-1", "tx-9"))
    assert measure([write], [read_back], []).double_posted_keys == (("cust-u00", "dup"),)


def test_a_replayed_acknowledgement_with_the_same_id_is_not_double_posting() -> None:
    first = ok("u00", 1.0, key="k", tid="tx-1")
    replay = ok("u00", 2.0, key="k", tid="tx-1", status=200, attempt=2)
    assert measure([first, replay], found([first]), []).double_posted_keys == ()


def test_same_epoch_acknowledged_by_two_sites_is_split_brain() -> None:
    attempts = [
        *steady("u00", 0, 5),
        ok("u00", 5.0, epoch=1, site="same-city"),
        *steady("u00", 6, 8),
    ]
    m = measure(attempts, found(attempts), [])
    assert m.split_brain
    (finding,) = m.split_brain_findings
    assert finding.kind == "same-epoch-two-sites"
    assert finding.sites == ("production", "same-city")


def test_split_brain_findings_do_not_depend_on_input_order() -> None:
    attempts = [
        *steady("u00", 0, 5),
        ok("u00", 5.0, epoch=1, site="same-city"),
        ok("u00", 7.0, epoch=1, site="remote-dr"),
        *steady("u00", 14, 20, epoch=2, site="same-city"),
        ok("u00", 16.0, epoch=1, site="production"),
    ]
    forward = measure(attempts, [], FAULT).split_brain_findings
    assert forward == measure(attempts[::-1], [], FAULT).split_brain_findings
    assert [f.kind for f in forward] == ["same-epoch-two-sites", "overlapping-epochs"]


def test_old_epoch_acknowledged_after_the_new_one_served_is_split_brain() -> None:
    attempts = [
        *steady("u00", 0, 10),
        *steady("u00", 14, 20, epoch=2, site="same-city"),
        ok("u00", 16.0, epoch=1, site="production"),  # the old primary still writes
    ]
    m = measure(attempts, found(attempts), FAULT)
    (finding,) = m.split_brain_findings
    assert finding.kind == "overlapping-epochs"
    assert finding.epochs == (1, 2)
    assert finding.at == pytest.approx(16.02)


def test_a_replayed_old_epoch_answer_is_not_split_brain() -> None:
    # The first attempt committed at epoch 1 but its answer was lost; the retry after
    # failover gets the stored answer, which still names production and epoch 1.
    attempts = [
        *steady("u00", 0, 10),
        *steady("u00", 14, 20, epoch=2, site="same-city"),
        ok("u00", 15.0, epoch=1, site="production", status=200, key="late", attempt=2),
    ]
    assert not measure(attempts, found(attempts), FAULT).split_brain


def test_failovers_come_from_client_epochs_and_from_controller_events() -> None:
    attempts = clean_failover()
    events = [ControllerEvent(at=13.0, kind="promoted", unit="u01", site="production", epoch=2)]
    m = measure(attempts, found(attempts), FAULT, events)
    assert m.failovers_by_unit == {"u00": 1, "u01": 1, "u02": 1, "u04": 1, "u06": 1}


def test_promotions_before_the_drill_started_are_not_its_failovers() -> None:
    # A platform whose controllers settled its units while it started (or one attached
    # to after earlier drills) has promotions of its own before t = 0.
    attempts = clean_failover()
    events = [
        ControllerEvent(at=-17.4, kind="promoted", unit="u01", site="same-city", epoch=2),
        ControllerEvent(at=-0.1, kind="promoted", unit="u03", site="same-city", epoch=2),
    ]
    m = measure(attempts, found(attempts), FAULT, events)
    assert m.failovers_by_unit == {"u00": 1, "u02": 1, "u04": 1, "u06": 1}


def test_an_epoch_jump_counts_every_promotion_clients_missed() -> None:
    attempts = [*steady("u00", 0, 5), *steady("u00", 10, 15, epoch=3, site="same-city")]
    assert measure(attempts, found(attempts), []).failovers_by_unit == {"u00": 2}


def test_false_failovers_are_counted_only_when_the_drill_expects_none() -> None:
    attempts = clean_failover()
    expected_none = measure(attempts, found(attempts), FAULT, expects_no_failover=True)
    expected_some = measure(attempts, found(attempts), FAULT)
    assert expected_none.false_failovers == 4
    assert expected_some.false_failovers == 0


def test_detection_is_the_first_site_down_event_after_the_fault() -> None:
    events = [
        ControllerEvent(at=2.0, kind="site-down", site="remote-dr"),  # before: ignored
        ControllerEvent(at=13.4, kind="site-down", site="production"),
        ControllerEvent(at=14.0, kind="promoted", unit="u00", site="same-city", epoch=2),
    ]
    m = measure(clean_failover(), [], FAULT, events)
    assert m.detection_seconds == pytest.approx(3.4)


def test_a_site_declared_down_only_once_a_repair_brought_an_observer_back_is_no_detection() -> None:
    # city-a-lost: remote-dr alone can never make a quorum of observers; same-city was
    # declared down once production (and its observer) came back at 60 s.
    actions = [action(8.0, "site-down production same-city"), action(60.0, "site-up production")]
    late = [ControllerEvent(at=70.7, kind="site-down", site="same-city")]
    assert measure(clean_failover(), [], actions, late).detection_seconds is None
    early = [ControllerEvent(at=12.0, kind="site-down", site="production"), *late]
    assert measure(clean_failover(), [], actions, early).detection_seconds == pytest.approx(4.0)


def test_no_site_down_event_means_no_detection() -> None:
    assert measure(clean_failover(), [], FAULT).detection_seconds is None


def test_the_first_fault_of_the_method_starts_the_clock() -> None:
    actions = [
        action(4.0, "switchover --from production"),  # planned: not a fault
        action(10.0, "site-down production"),
        action(12.0, "partition production same-city"),
        action(40.0, "site-down production", phase="rollback"),
    ]
    assert measure([], [], actions).fault_at == 10.0


def test_requests_count_every_attempt_including_retries() -> None:
    attempts = [fail("u00", 1.0, key="a"), ok("u00", 2.0, key="a", attempt=2), ok("u01", 2.0)]
    m = measure(attempts, found(attempts), [])
    assert (m.requests.total, m.requests.ok, m.requests.failed) == (3, 2, 1)


def test_errors_inside_a_drain_window_are_forgiven_and_others_are_not() -> None:
    attempts = [fail("u00", 8.5), fail("u00", 12.5), fail("u00", 20.0), *steady("u01", 0, 25)]
    actions = [action(8.0, "switchover --from production", until=10.0)]
    m = measure(attempts, found(attempts), actions, drain_window_seconds=3.0)
    assert m.errors_outside_drain == 1  # 8.5 and 12.5 are within [8, 13]


def test_series_has_one_point_per_second_with_gaps_kept() -> None:
    attempts = [ok("u00", 0.1, latency=0.01), fail("u00", 0.5), ok("u00", 2.2, latency=0.05)]
    series = per_second(attempts)
    assert [s.second for s in series] == [0, 1, 2]
    assert series[0].success_rate == 0.5
    assert series[1].success_rate is None
    assert series[2].p99_ms == pytest.approx(50.0)


def test_percentile_is_nearest_rank() -> None:
    assert percentile([], 99) is None
    assert percentile([5.0], 99) == 5.0
    assert percentile([float(v) for v in range(1, 101)], 99) == 99.0
    assert percentile([float(v) for v in range(1, 101)], 50) == 50.0


def test_input_order_does_not_change_the_measurements() -> None:
    attempts = [*clean_failover(), fail("u03", 12.0)]
    forward = measure(attempts, found(attempts), FAULT)
    backward = measure(attempts[::-1], found(attempts)[::-1], FAULT)
    assert forward == backward


# --- properties ---------------------------------------------------------------------------

outcome = st.sampled_from([201, 201, 201, 503, "timeout", "connect-error"])
attempt_spec = st.tuples(
    st.sampled_from(UNITS),
    st.floats(min_value=0, max_value=40, allow_nan=False),
    st.floats(min_value=0, max_value=3, allow_nan=False),
    outcome,
)


def _build(specs: list[tuple[str, float, float, int | str]]) -> list[Attempt]:
    attempts = []
    for unit, sent, latency, result in specs:
        if result == 201:
            attempts.append(ok(unit, sent, latency=latency))
        else:
            attempts.append(fail(unit, sent, result, latency=latency))  # type: ignore[arg-type]
    return attempts


@settings(max_examples=150, deadline=None)
@given(st.lists(attempt_spec, max_size=60), st.floats(min_value=0, max_value=40))
def test_rto_is_never_negative(
    specs: list[tuple[str, float, float, int | str]], fault: float
) -> None:
    for rto in rto_per_unit(_build(specs), fault).values():
        assert rto is None or rto >= 0


@settings(max_examples=150, deadline=None)
@given(st.lists(attempt_spec, max_size=60), st.floats(min_value=0, max_value=40))
def test_rto_never_counts_a_unit_without_a_failure_after_the_fault(
    specs: list[tuple[str, float, float, int | str]], fault: float
) -> None:
    attempts = _build(specs)
    failed_after = {a.unit for a in attempts if not a.ok and a.answered_at >= fault}
    assert set(rto_per_unit(attempts, fault)) == failed_after


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.sampled_from(UNITS), min_size=1, max_size=40),
    st.data(),
)
def test_rpo_equals_the_number_of_dropped_acknowledgements(
    units: list[str], data: st.DataObject
) -> None:
    attempts = [ok(unit, float(i), key=f"w{i}") for i, unit in enumerate(units)]
    # Some writes are retried after a lost answer; a retry must not double-count.
    retried = data.draw(st.sets(st.integers(0, len(units) - 1)))
    attempts += [
        ok(units[i], 50.0 + i, key=f"w{i}", status=200, attempt=2, tid=f"tx-w{i}")
        for i in sorted(retried)
    ]
    dropped = data.draw(st.sets(st.sampled_from([f"w{i}" for i in range(len(units))])))
    m = measure(attempts, found(attempts, drop=sorted(dropped)), FAULT)
    assert m.rpo_lost_acknowledged == len(dropped)


@settings(max_examples=150, deadline=None)
@given(st.lists(attempt_spec, max_size=60))
def test_interruption_is_zero_without_a_failure_unknown_after_a_final_failure_else_positive(
    specs: list[tuple[str, float, float, int | str]],
) -> None:
    attempts = _build(specs)
    for unit, interruption in interruption_per_unit(attempts).items():
        mine = sorted((a for a in attempts if a.unit == unit), key=lambda a: a.sent_at)
        if all(a.ok for a in mine):
            assert interruption == 0.0
        elif failed_stretches(mine)[-1].recovered_at is None:
            assert interruption is None
        else:
            assert interruption is not None and interruption >= 0


@settings(max_examples=150, deadline=None)
@given(st.lists(attempt_spec, max_size=60))
def test_no_success_is_answered_inside_an_interruption_from_a_write_sent_in_it(
    specs: list[tuple[str, float, float, int | str]],
) -> None:
    attempts = _build(specs)
    for unit in {a.unit for a in attempts}:
        mine = [a for a in attempts if a.unit == unit]
        for stretch in failed_stretches(mine):
            end = stretch.recovered_at if stretch.recovered_at is not None else float("inf")
            assert not any(
                a.ok and stretch.started_at < a.sent_at and a.answered_at < end for a in mine
            )
