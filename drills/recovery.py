"""When each unit's writes stopped and started being acknowledged again: failed
stretches, RTO and write interruption, from client attempts only. Pure.

Definitions (documented for auditors in ``docs/drills.md``; the fault time is
:func:`drills.measure.first_fault_at`):

- **RTO of a unit** — look at the unit's attempts answered at or after the fault time,
  in the order they were *sent*. The unit is *affected* if one of them failed (any
  non-2xx, timeout or connection error). Its *final run* is the attempts sent after the
  last failure; they all succeeded. RTO = earliest answer in the final run − fault
  time. A unit with no failure is not affected and has no RTO entry; an affected unit
  whose last attempt failed never recovered: RTO ``None``, and the drill fails.
- **drill RTO** — max over affected units; ``0.0`` when no unit was affected; ``None``
  when some unit never recovered.
- **failed stretch** — a maximal run of a unit's failed attempts, in the order they were
  sent. Its *recovery* is the earliest answer among the successes sent after it — the
  same "recovered" as the RTO's: the RTO is the last stretch after the fault, counted
  from the fault time. No success sent after it: never recovered.
- **write interruption of a unit** — its longest failed stretch over the whole drill,
  from the *send* time of the stretch's first attempt to its recovery: the longest time
  the load was sending to the unit without a write being acknowledged. ``0.0`` for a
  unit whose writes never failed; ``None`` when its last stretch never recovered. Every
  unit the load sent to has an entry. A write that is slow but succeeds is latency, not
  interruption (the ``p99-latency`` probe judges it); one that outlasts the client's
  timeout is a failure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import groupby

from drills.attempt_order import by_unit, sent_order
from drills.attempts import Attempt


@dataclass(frozen=True, slots=True)
class FailedStretch:
    """A maximal run of one unit's failed attempts in sent order (module docstring).

    ``started_at`` is the send time of its first attempt; ``recovered_at`` the earliest
    answer among the successes sent after it, ``None`` if none was."""

    started_at: float
    recovered_at: float | None

    @property
    def seconds(self) -> float | None:
        """How long the unit acknowledged nothing; ``None`` = never recovered."""
        return None if self.recovered_at is None else self.recovered_at - self.started_at


def failed_stretches(attempts: Iterable[Attempt]) -> list[FailedStretch]:
    """One unit's failed stretches, in sent order; see the module docstring."""
    runs = [list(run) for _, run in groupby(sorted(attempts, key=sent_order), key=_ok)]
    stretches = []
    recovered_at: float | None = None  # earliest answer of a success sent after the run
    for run in reversed(runs):
        if run[0].ok:
            earliest = min(a.answered_at for a in run)
            recovered_at = earliest if recovered_at is None else min(recovered_at, earliest)
        else:
            stretches.append(FailedStretch(started_at=run[0].sent_at, recovered_at=recovered_at))
    return stretches[::-1]


def unit_rto(attempts: Iterable[Attempt], fault_at: float) -> tuple[bool, float | None]:
    """``(affected, rto)`` of one unit's attempts: its last failed stretch among the
    attempts answered at or after ``fault_at``, counted from ``fault_at``."""
    stretches = failed_stretches(a for a in attempts if a.answered_at >= fault_at)
    if not stretches:
        return False, None
    recovered_at = stretches[-1].recovered_at
    if recovered_at is None:
        return True, None
    return True, max(0.0, recovered_at - fault_at)


def rto_per_unit(attempts: Iterable[Attempt], fault_at: float | None) -> dict[str, float | None]:
    """RTO of every *affected* unit, sorted by unit name; empty without a fault."""
    if fault_at is None:
        return {}
    result: dict[str, float | None] = {}
    for unit, unit_attempts in sorted(by_unit(attempts).items()):
        affected, rto = unit_rto(unit_attempts, fault_at)
        if affected:
            result[unit] = rto
    return result


def drill_rto(rto_by_unit: Mapping[str, float | None]) -> float | None:
    """Max over affected units; ``None`` if one never recovered; 0 if none affected."""
    return longest(rto_by_unit.values())


def longest(values: Iterable[float | None]) -> float | None:
    """The max of per-unit durations: ``None`` if one is ``None`` (a unit that never
    recovered), ``0.0`` when there are none."""
    listed = list(values)
    if any(v is None for v in listed):
        return None
    return max((v for v in listed if v is not None), default=0.0)


def unit_interruption(attempts: Iterable[Attempt]) -> float | None:
    """One unit's longest failed stretch in seconds: ``0.0`` if none failed, ``None`` if
    its last stretch never recovered. Over the whole drill, fault or no fault."""
    return longest(stretch.seconds for stretch in failed_stretches(attempts))


def interruption_per_unit(attempts: Iterable[Attempt]) -> dict[str, float | None]:
    """Write interruption of every unit the load sent to, sorted by unit name."""
    grouped = sorted(by_unit(attempts).items())
    return {unit: unit_interruption(unit_attempts) for unit, unit_attempts in grouped}


def _ok(attempt: Attempt) -> bool:
    return attempt.ok
