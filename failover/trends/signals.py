"""The numbers the trend watch compares: a unit's traffic sample, the rates between two
samples, and what a level of those rates says (ratios, percentiles, the type mix).

Pure: no clock, no I/O. A sample is the ``traffic`` object of ``GET /v1/unit``
(:mod:`app.traffic`), cumulative since its process started, read by :func:`parse_sample`,
which never raises on a malformed one (it returns None: the unit is then not judged).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeGuard

OUTCOMES = ("approved", "declined", "failed")
TYPES = ("purchase", "payment", "refund")

Level = Mapping[str, float]
"""Rates per second by component: ``approved``, ``declined``, ``failed``, ``type:<t>``,
``lat:<i>`` (writes in latency bucket ``i``). Linear: levels of units add up to a site's."""


@dataclass(frozen=True, slots=True)
class TrafficSample:
    """One reading of an instance's cumulative counters at ``at`` on its own clock."""

    boot: str
    at: float
    counts: Mapping[str, int]
    bounds_ms: tuple[float, ...]

    def same_series(self, other: TrafficSample) -> bool:
        """Both readings come from one run of one process with the same buckets, so
        their difference is traffic (a restart starts the counters over)."""
        return self.boot == other.boot and self.bounds_ms == other.bounds_ms


def parse_sample(raw: Any) -> TrafficSample | None:
    """The ``traffic`` object of ``/v1/unit``, or None when absent or malformed."""
    if not isinstance(raw, Mapping):
        return None
    boot, at, writes = raw.get("boot"), raw.get("at"), raw.get("writes")
    bounds, latency = raw.get("latency_bounds_ms"), raw.get("latency_counts")
    if not (isinstance(boot, str) and isinstance(writes, Mapping) and _number(at)):
        return None
    if not (isinstance(bounds, list) and isinstance(latency, list)):
        return None
    if len(latency) != len(bounds) + 1 or not all(_number(b) for b in bounds):
        return None
    counts = _counts(writes, latency)
    if counts is None:
        return None
    return TrafficSample(boot, float(at), counts, tuple(float(b) for b in bounds))


def _counts(writes: Mapping[Any, Any], latency: list[Any]) -> dict[str, int] | None:
    counts: dict[str, int] = {o: 0 for o in OUTCOMES}
    counts.update({f"type:{t}": 0 for t in TYPES})
    for key, value in writes.items():
        kind, _, outcome = str(key).partition("/")
        if not _count(value) or kind not in TYPES or outcome not in OUTCOMES:
            return None
        counts[outcome] += value
        counts[f"type:{kind}"] += value
    for i, value in enumerate(latency):
        if not _count(value):
            return None
        counts[f"lat:{i}"] = value
    return counts


def _number(value: Any) -> TypeGuard[float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _count(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def rates(before: TrafficSample, after: TrafficSample) -> dict[str, float] | None:
    """Rates per second between two readings of one series; None when they cannot be
    compared (another series, no time between them, a counter that went down)."""
    elapsed = after.at - before.at
    if not after.same_series(before) or elapsed <= 0:
        return None
    found = {}
    for key, value in after.counts.items():
        delta = value - before.counts.get(key, 0)
        if delta < 0:
            return None
        found[key] = delta / elapsed
    return found


def blend(level: Level, target: Level, weight: float) -> dict[str, float]:
    """``level`` moved ``weight`` (0..1) of the way to ``target``: one EWMA step."""
    keys = set(level) | set(target)
    return {k: level.get(k, 0.0) + weight * (target.get(k, 0.0) - level.get(k, 0.0)) for k in keys}


def step_weight(elapsed: float, half_life: float) -> float:
    """The EWMA weight of ``elapsed`` seconds of new data at ``half_life``: exact for
    irregular intervals (two 1 s steps equal one 2 s step)."""
    kept: float = 0.5 ** (elapsed / half_life)
    return 1.0 - kept


def add(levels: Sequence[Level]) -> dict[str, float]:
    total: dict[str, float] = {}
    for level in levels:
        for key, value in level.items():
            total[key] = total.get(key, 0.0) + value
    return total


def volume(level: Level) -> float:
    """Writes per second, whatever their outcome."""
    return sum(level.get(o, 0.0) for o in OUTCOMES)


def ratio(level: Level, part: str, of: Sequence[str]) -> float:
    whole = sum(level.get(k, 0.0) for k in of)
    return level.get(part, 0.0) / whole if whole > 0 else 0.0


def mix(level: Level) -> dict[str, float]:
    """Each transaction type's share of the writes."""
    whole = sum(level.get(f"type:{t}", 0.0) for t in TYPES)
    return {t: (level.get(f"type:{t}", 0.0) / whole if whole > 0 else 0.0) for t in TYPES}


def percentile(level: Level, bounds_ms: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) of write latency in ms, interpolated inside its bucket
    (log-linearly: the buckets grow geometrically); 0 without writes. The unbounded last
    bucket answers its lower bound: "at least that"."""
    counts = [level.get(f"lat:{i}", 0.0) for i in range(len(bounds_ms) + 1)]
    total = sum(counts)
    if total <= 0:
        return 0.0
    wanted, seen = q * total, 0.0
    for i, count in enumerate(counts):
        if count > 0 and seen + count >= wanted:
            if i == len(bounds_ms):
                return float(bounds_ms[-1])
            upper = bounds_ms[i]
            lower = bounds_ms[i - 1] if i > 0 else upper / 2
            into = (wanted - seen) / count
            estimate: float = lower * (upper / lower) ** into
            return estimate
        seen += count
    return float(bounds_ms[-1])  # rounding left ``wanted`` past the last count


def slower_than(level: Level, bounds_ms: Sequence[float], ms: float) -> float:
    """Writes per second slower than ``ms``, taking the bucket that holds ``ms`` in part
    (log-linearly, as :func:`percentile` reads it). The unbounded last bucket counts whole
    once ``ms`` reaches its lower bound: "at least that" may be slower."""
    found = 0.0
    for i in range(len(bounds_ms) + 1):
        count = level.get(f"lat:{i}", 0.0)
        upper = bounds_ms[i] if i < len(bounds_ms) else math.inf
        lower = bounds_ms[i - 1] if i > 0 else bounds_ms[0] / 2
        if count <= 0 or upper <= ms:
            continue
        if ms <= lower or upper == math.inf:
            found += count
        else:
            found += count * math.log(upper / ms) / math.log(upper / lower)
    return found
