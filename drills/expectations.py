"""Judging a drill: ``expect`` against measurements, steady-state probes, guard rails.

Pure functions of the spec and what clients saw. Each expectation becomes one
:class:`ExpectationResult` — the ``{name, expected, observed, passed}`` rows of the
report (docs/design.md §5) — in a fixed order, so reports of the same input are identical.

Always judged (safe defaults, see :class:`drills.spec.Expect`): ``rpo_lost_acknowledged``,
``split_brain``, ``double_posting`` and ``all_units_recover`` (row ``unrecovered_units``).
The others only when the spec states them. Duration bounds (``rto_seconds_max``,
``survivors_interruption_seconds_max``, ``unit_interruption_seconds_max``) fail when the
measured duration is unknown: a unit that never recovered meets no bound.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from enum import StrEnum

from drills.attempt_stats import error_rate, percentile, units_not_serving, window
from drills.attempts import Attempt
from drills.measure import Measurements
from drills.spec import AbortIf, AllUnitsServingProbe, ErrorRateProbe, Expect, LatencyProbe

JsonScalar = str | int | float | bool | None
Expected = JsonScalar | dict[str, JsonScalar] | list[str]


class Verdict(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    ABORTED = "aborted"


@dataclass(frozen=True, slots=True)
class ExpectationResult:
    """One judged expectation; ``expected`` and ``observed`` are JSON-ready."""

    name: str
    expected: Expected
    observed: Expected
    passed: bool


def evaluate(expect: Expect, m: Measurements) -> list[ExpectationResult]:
    """Every expectation of ``expect`` judged against ``m``, in a fixed order."""
    results = [_recovery(m)] if expect.all_units_recover else []
    results += _durations(expect, m)
    results.append(_rpo(expect, m))
    results.append(ExpectationResult("split_brain", False, m.split_brain, not m.split_brain))
    doubled = bool(m.double_posted_keys)
    results.append(ExpectationResult("double_posting", False, doubled, not doubled))
    if expect.failovers is not None:
        low, high = expect.failovers.min, expect.failovers.max
        passed = low <= m.failovers and (high is None or m.failovers <= high)
        bounds: dict[str, JsonScalar] = {"min": low, "max": high}
        results.append(ExpectationResult("failovers", bounds, m.failovers, passed))
    if expect.false_failovers is not None:
        passed = m.false_failovers <= expect.false_failovers
        results.append(
            ExpectationResult("false_failovers", expect.false_failovers, m.false_failovers, passed)
        )
    if expect.only_units_move is not None:
        allowed = sorted(expect.only_units_move)
        moved = sorted(m.units_moved)
        passed = set(moved) <= set(allowed)
        results.append(ExpectationResult("only_units_move", allowed, moved, passed))
    if expect.errors_outside_drain_max is not None:
        bound = expect.errors_outside_drain_max
        observed = m.errors_outside_drain
        results.append(
            ExpectationResult("errors_outside_drain_max", bound, observed, observed <= bound)
        )
    return results


def _durations(expect: Expect, m: Measurements) -> list[ExpectationResult]:
    """The bounds on durations the spec states, in this order: RTO (drill), longest
    interruption of a unit that did not move, longest interruption of any unit."""
    bounded = (
        ("rto_seconds_max", expect.rto_seconds_max, m.rto_seconds),
        (
            "survivors_interruption_seconds_max",
            expect.survivors_interruption_seconds_max,
            m.survivors_interruption_seconds,
        ),
        (
            "unit_interruption_seconds_max",
            expect.unit_interruption_seconds_max,
            m.longest_interruption_seconds,
        ),
    )
    return [
        _at_most(name, bound, observed) for name, bound, observed in bounded if bound is not None
    ]


def _at_most(name: str, bound: float, observed: float | None) -> ExpectationResult:
    """Passes when ``observed`` is known and ≤ ``bound``; ``None`` (a unit that never
    recovered) always fails."""
    return ExpectationResult(name, bound, observed, observed is not None and observed <= bound)


def _recovery(m: Measurements) -> ExpectationResult:
    stuck = list(m.unrecovered_units)
    return ExpectationResult("unrecovered_units", [], stuck, not stuck)


def _rpo(expect: Expect, m: Measurements) -> ExpectationResult:
    bound = expect.rpo_lost_acknowledged
    observed = m.rpo_lost_acknowledged
    passed = bound == "reported" or observed <= bound
    return ExpectationResult("rpo_lost_acknowledged", bound, observed, passed)


def verdict(results: Sequence[ExpectationResult], aborted: bool = False) -> Verdict:
    """``aborted`` wins (the drill did not run to its end); else pass iff all passed."""
    if aborted:
        return Verdict.ABORTED
    return Verdict.PASS if all(r.passed for r in results) else Verdict.FAIL


# --- steady state and guard rails (evaluated by the runner while the load runs) ---------

SteadyProbe = ErrorRateProbe | LatencyProbe | AllUnitsServingProbe


def steady_state_violations(
    probes: Sequence[SteadyProbe],
    attempts: Sequence[Attempt],
    now: float,
    units: Collection[str],
) -> list[str]:
    """Why the steady state does not hold at ``now`` (empty list: it holds).

    Each probe looks at the attempts sent in ``[now - window, now)``. ``units`` are the
    units the load's customers live in. A window without any attempt is a violation:
    no evidence is not a steady state.
    """
    problems: list[str] = []
    for probe in probes:
        recent = window(attempts, now - probe.window_seconds, now)
        if not recent:
            problems.append(f"{probe.probe}: no attempts in the last {probe.window_seconds:g} s")
            continue
        if isinstance(probe, AllUnitsServingProbe):
            problem = _serving_problem(probe, attempts, units, now)
        else:
            problem = _probe_problem(probe, recent)
        if problem:
            problems.append(problem)
    return problems


def _serving_problem(
    probe: AllUnitsServingProbe, attempts: Sequence[Attempt], units: Collection[str], now: float
) -> str:
    missing = units_not_serving(attempts, units, now - probe.window_seconds, now)
    return f"{probe.probe}: no acknowledged write from {', '.join(missing)}" if missing else ""


def _probe_problem(probe: ErrorRateProbe | LatencyProbe, recent: list[Attempt]) -> str:
    if isinstance(probe, ErrorRateProbe):
        rate = error_rate(recent) or 0.0
        return f"error-rate {rate:.3f} > {probe.max:g}" if rate > probe.max else ""
    if isinstance(probe, LatencyProbe):
        p99 = percentile([a.latency_ms for a in recent if a.ok], 99)
        if p99 is None:
            return "p99-latency: no successful attempt"
    return f"p99-latency {p99:.1f} ms > {probe.max_ms:g} ms" if p99 > probe.max_ms else ""


def tripped_guard(guards: Sequence[AbortIf], attempts: Sequence[Attempt], now: float) -> str:
    """The reason to abort at ``now``, or ``""``. A guard trips when the error rate of the
    attempts sent in the last ``for_seconds`` is above its bound (only once the drill has
    run that long, so a young drill is not judged on a partial window)."""
    for guard in guards:
        if now < guard.for_seconds:
            continue
        rate = error_rate(window(attempts, now - guard.for_seconds, now))
        if rate is not None and rate > guard.error_rate_above:
            return (
                f"error rate {rate:.3f} above {guard.error_rate_above:g} "
                f"for the last {guard.for_seconds:g} s"
            )
    return ""
