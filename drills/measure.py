"""Measurements of a drill, computed only from what clients saw (docs/design.md §1, issue 5).

Inputs: the client :class:`~drills.attempts.Attempt` records, the
:class:`~drills.attempts.ReadBack` of every acknowledged write, the timeline of
:class:`~drills.executed.ExecutedAction` (when each fault and operator action really
ran), and — for the detection time and as a second source of failover counts only —
:class:`~drills.controller_event.ControllerEvent`.
Pure: the same input always gives the same :class:`Measurements`.

:func:`measure` assembles :class:`Measurements` from the modules that compute each part,
each stating its definitions (documented for auditors in ``docs/drills.md``):
:mod:`drills.recovery` (failed stretches, RTO, write interruption),
:mod:`drills.durability` (RPO, double posting), :mod:`drills.primaries` (split brain,
failovers) and :mod:`drills.attempt_stats` (requests, per-second series, errors outside
the drain window). Defined here:

- **fault time** — start of the first *fault* action of the method (``site-down``,
  ``site-hang``, ``partition``, ``slow``, ``unit-crash``). Repairs and operator moves
  (switchover, failback) do not start the clock. No fault → nothing is affected.
- **longest interruption** — max over units (``None`` if one never recovered);
  **survivors' interruption** — the same over the units that did not move (no failover);
  ``0.0`` when there is none.
- **false failovers** — all failovers when the drill expects none, else 0.
- **detection** — first ``site-down`` controller event at or after the fault time and
  before the first repair after it (``site-up``, ``heal``), minus the fault time.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from drills.attempt_stats import (
    Requests,
    SecondStats,
    count_requests,
    errors_outside_drain,
    per_second,
)
from drills.attempts import Attempt, ReadBack, WriteKey
from drills.controller_event import SITE_DOWN, ControllerEvent
from drills.durability import double_posted, lost_acknowledged
from drills.executed import ExecutedAction
from drills.primaries import SplitBrainFinding, failovers_per_unit, split_brain
from drills.recovery import drill_rto, interruption_per_unit, longest, rto_per_unit


@dataclass(frozen=True)
class Measurements:
    """Everything a report states as measured. See the module docstring for definitions."""

    fault_at: float | None
    detection_seconds: float | None
    rto_seconds: float | None
    rto_by_unit: Mapping[str, float | None]
    rpo_lost_acknowledged: int
    lost_keys: tuple[WriteKey, ...]
    changed_keys: tuple[WriteKey, ...]
    double_posted_keys: tuple[WriteKey, ...]
    requests: Requests
    split_brain_findings: tuple[SplitBrainFinding, ...]
    failovers_by_unit: Mapping[str, int]
    false_failovers: int
    errors_outside_drain: int
    series: tuple[SecondStats, ...]
    interruption_by_unit: Mapping[str, float | None]
    retries_refused: int = 0
    """Retries the clients' retry budget did not send (each gave its write up)."""

    @property
    def split_brain(self) -> bool:
        return bool(self.split_brain_findings)

    @property
    def failovers(self) -> int:
        return sum(self.failovers_by_unit.values())

    @property
    def unrecovered_units(self) -> tuple[str, ...]:
        return tuple(u for u, rto in self.rto_by_unit.items() if rto is None)

    @property
    def units_moved(self) -> tuple[str, ...]:
        return tuple(u for u, n in self.failovers_by_unit.items() if n > 0)

    @property
    def longest_interruption_seconds(self) -> float | None:
        """The longest write interruption of any unit (``None``: one never recovered)."""
        return longest(self.interruption_by_unit.values())

    @property
    def survivors_interruption_seconds(self) -> float | None:
        """The longest write interruption of a unit that did not move; ``0.0`` when every
        unit moved (or none was sent to); ``None`` when a survivor never recovered."""
        moved = set(self.units_moved)
        return longest(v for u, v in self.interruption_by_unit.items() if u not in moved)


def measure(
    attempts: Sequence[Attempt],
    read_backs: Sequence[ReadBack],
    actions: Sequence[ExecutedAction],
    events: Sequence[ControllerEvent] = (),
    *,
    expects_no_failover: bool = False,
    drain_window_seconds: float = 0.0,
    retries_refused: int = 0,
) -> Measurements:
    """Measure a drill. ``expects_no_failover`` and ``drain_window_seconds`` come from the
    spec's ``expect`` (:attr:`drills.spec.Expect.expects_no_failover`);
    ``retries_refused`` from the load generator, which alone knows what it did not send."""
    fault_at = first_fault_at(actions)
    rto_by_unit = rto_per_unit(attempts, fault_at)
    lost, changed = lost_acknowledged(attempts, read_backs)
    failovers_by_unit = failovers_per_unit(attempts, events)
    return Measurements(
        fault_at=fault_at,
        detection_seconds=detection_seconds(events, fault_at, first_repair_at(actions, fault_at)),
        rto_seconds=drill_rto(rto_by_unit),
        rto_by_unit=rto_by_unit,
        rpo_lost_acknowledged=len(lost) + len(changed),
        lost_keys=lost,
        changed_keys=changed,
        double_posted_keys=double_posted(attempts, read_backs),
        requests=count_requests(attempts),
        split_brain_findings=split_brain(attempts),
        failovers_by_unit=failovers_by_unit,
        false_failovers=sum(failovers_by_unit.values()) if expects_no_failover else 0,
        errors_outside_drain=errors_outside_drain(attempts, actions, drain_window_seconds),
        series=per_second(attempts),
        interruption_by_unit=interruption_per_unit(attempts),
        retries_refused=retries_refused,
    )


def first_fault_at(actions: Iterable[ExecutedAction]) -> float | None:
    """When the first fault action of the method took effect, or ``None`` without one."""
    starts = [a.effective_at for a in actions if a.is_fault and a.phase == "method"]
    return min(starts) if starts else None


def first_repair_at(actions: Iterable[ExecutedAction], after: float | None) -> float | None:
    """When the first repair (``site-up``, ``heal``; method or rollback) at or after
    ``after`` took effect, or ``None``."""
    if after is None:
        return None
    repairs = [a.effective_at for a in actions if a.is_repair and a.effective_at >= after]
    return min(repairs) if repairs else None


def detection_seconds(
    events: Iterable[ControllerEvent], fault_at: float | None, repaired_at: float | None = None
) -> float | None:
    """From the fault to the first ``site-down`` event at or after it, while the fault
    still stands (before ``repaired_at``): a site lost with the only other observer site
    is never declared down by a quorum, and a verdict reached once a repair brought an
    observer back is not the fault's detection."""
    if fault_at is None:
        return None
    until = math.inf if repaired_at is None else repaired_at
    downs = [e.at for e in events if e.kind == SITE_DOWN and fault_at <= e.at < until]
    return min(downs) - fault_at if downs else None
