"""Counts and rates over client attempts by send time: the request totals, the per-second
series of the timeline, the windows the steady-state probes and abort guards judge, and
the errors outside a planned move's drain window. Pure.

Definitions (documented for auditors in ``docs/drills.md``):

- **requests** — every HTTP attempt (retries included): ``ok`` (2xx) or ``failed``.
- **errors outside the drain window** — failed attempts sent outside every
  ``[start, end + drain_window_seconds]`` of a ``switchover`` or ``failback`` action.
- **series** — per second of *sending*: attempts, successes and the p99 (nearest rank)
  latency of successful attempts.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from drills.attempts import Attempt
from drills.executed import ExecutedAction
from drills.steps import PLANNED_ACTIONS


@dataclass(frozen=True, slots=True)
class SecondStats:
    """Attempts *sent* during second ``[second, second + 1)`` of the drill."""

    second: int
    total: int
    ok: int
    p99_ms: float | None

    @property
    def success_rate(self) -> float | None:
        return self.ok / self.total if self.total else None


@dataclass(frozen=True, slots=True)
class Requests:
    """Every HTTP attempt (retries included): acknowledged (2xx) or failed."""

    total: int
    ok: int
    failed: int


def count_requests(attempts: Sequence[Attempt]) -> Requests:
    ok = sum(1 for a in attempts if a.ok)
    return Requests(total=len(attempts), ok=ok, failed=len(attempts) - ok)


def errors_outside_drain(
    attempts: Iterable[Attempt], actions: Iterable[ExecutedAction], drain_window_seconds: float
) -> int:
    """Failed attempts sent outside every ``[start, end + drain]`` of a planned move."""
    windows = [
        (a.started_at, a.finished_at + drain_window_seconds)
        for a in actions
        if a.action in PLANNED_ACTIONS
    ]
    return sum(
        1
        for a in attempts
        if not a.ok and not any(lo <= a.sent_at <= hi for lo, hi in windows)
    )  # fmt: skip


def percentile(values: Sequence[float], pct: float) -> float | None:
    """Nearest-rank percentile (no interpolation, so it is a value that was observed)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100.0 * len(ordered)))
    return ordered[rank - 1]


def per_second(attempts: Iterable[Attempt]) -> tuple[SecondStats, ...]:
    """Success rate and p99 latency (of successes) per second of sending, gaps included."""
    buckets: dict[int, list[Attempt]] = defaultdict(list)
    for a in attempts:
        buckets[max(0, math.floor(a.sent_at))].append(a)
    if not buckets:
        return ()
    return tuple(
        SecondStats(
            second=s,
            total=len(buckets[s]),
            ok=sum(1 for a in buckets[s] if a.ok),
            p99_ms=percentile([a.latency_ms for a in buckets[s] if a.ok], 99),
        )
        for s in range(max(buckets) + 1)
    )


def window(attempts: Iterable[Attempt], start: float, end: float) -> list[Attempt]:
    """Attempts sent in ``[start, end)`` — the basis of steady-state probes and guards."""
    return [a for a in attempts if start <= a.sent_at < end]


def units_not_serving(
    attempts: Iterable[Attempt], units: Iterable[str], start: float, end: float
) -> list[str]:
    """The units whose latest evidence at ``end`` is that they do not serve, sorted.

    A unit is judged on its attempts sent in ``[start, end)``: serving if one of them was
    acknowledged. A unit the load happened not to touch in that window (a few customers
    per unit at a low rate leave gaps of seconds) is judged on its last attempt before
    ``start`` instead; a unit never acknowledged at all is not serving (no evidence)."""
    in_window: dict[str, bool] = {}
    last_before: dict[str, Attempt] = {}
    for attempt in attempts:
        if start <= attempt.sent_at < end:
            in_window[attempt.unit] = in_window.get(attempt.unit, False) or attempt.ok
        elif attempt.sent_at < start:
            previous = last_before.get(attempt.unit)
            if previous is None or attempt.sent_at >= previous.sent_at:
                last_before[attempt.unit] = attempt
    missing = []
    for unit in units:
        if unit in in_window:
            serving = in_window[unit]
        else:
            previous = last_before.get(unit)
            serving = previous is not None and previous.ok
        if not serving:
            missing.append(unit)
    return sorted(missing)


def error_rate(attempts: Sequence[Attempt]) -> float | None:
    """Share of failed attempts; ``None`` when there are none to judge."""
    if not attempts:
        return None
    return sum(1 for a in attempts if not a.ok) / len(attempts)
