"""Whether a current level departs from its baseline, kind by kind.

Pure. Each rule compares a *current* level (fast EWMA) with the *baseline* (slow EWMA)
of the same scope — a unit, or the sum of the units whose primary is in a site — and
returns a :class:`Verdict`: ``departs`` crosses the warning threshold, ``stays`` the
weaker one a standing warning needs (hysteresis: half-way between normal and the
threshold), or None when there is too little traffic to say anything (a unit that is
idle, or was, never warns).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from failover.trend_settings import TrendSettings
from failover.trends.signals import Level, mix, percentile, ratio, slower_than, volume

KINDS = ("decline_ratio", "failure_ratio", "approvals_drop", "p99_latency", "type_mix")


@dataclass(frozen=True, slots=True)
class Verdict:
    departs: bool
    stays: bool
    what: str
    """What is seen, for the reason sentence: ``decline ratio 0.62 vs baseline 0.05``."""
    suspect: bool | None = None
    """Whether the baseline must stop learning this reading; None: the same as ``stays``.
    A rule that asks for more evidence before it warns than the mere level still freezes
    the baseline on the level alone, else the baseline learns the departure while the
    evidence gathers and the departure is never seen."""

    @property
    def freezes_baseline(self) -> bool:
        return self.stays if self.suspect is None else self.suspect


@dataclass(frozen=True, slots=True)
class Levels:
    """One scope's levels and what its peers did meanwhile."""

    current: Level
    baseline: Level
    bounds_ms: Sequence[float]
    peer_scale: float
    """How much the *other* scopes' traffic moved (current / baseline volume; 1 without
    peers): a night-time drop everywhere is not one unit's drop."""


Rule = Callable[[Levels, TrendSettings], Verdict | None]


def _both_busy(levels: Levels, settings: TrendSettings) -> bool:
    floor = settings.min_writes_per_second
    return volume(levels.baseline) >= floor and volume(levels.current) >= floor


def _ratio_rule(part: str, of: tuple[str, ...], label: str, factor_of: str) -> Rule:
    def rule(levels: Levels, settings: TrendSettings) -> Verdict | None:
        if not _both_busy(levels, settings):
            return None
        factor = float(getattr(settings, factor_of))
        now, base = ratio(levels.current, part, of), ratio(levels.baseline, part, of)
        normal = max(base, settings.ratio_floor)
        what = f"{label} {now:.2f} vs baseline {base:.2f}"
        return Verdict(now >= factor * normal, now >= normal * (1 + factor) / 2, what)

    return rule


def _approvals_drop(levels: Levels, settings: TrendSettings) -> Verdict | None:
    base = levels.baseline.get("approved", 0.0)
    if base < settings.min_writes_per_second:
        return None
    expected = base * levels.peer_scale
    if expected < settings.min_writes_per_second:
        return None  # everyone went quiet together (night, the load stopped): no evidence
    now = levels.current.get("approved", 0.0)
    what = f"approvals {now:.1f}/s vs {expected:.1f}/s expected (baseline {base:.1f}/s)"
    drop = settings.approvals_drop
    return Verdict(now <= (1 - drop) * expected, now <= (1 - drop / 2) * expected, what)


def _p99(levels: Levels, settings: TrendSettings) -> Verdict | None:
    if not _both_busy(levels, settings):
        return None
    now = percentile(levels.current, levels.bounds_ms, 0.99)
    base = percentile(levels.baseline, levels.bounds_ms, 0.99)
    normal = max(base, settings.latency_floor_ms)
    factor = settings.p99_factor
    warn_at, stay_at = factor * normal, normal * (1 + factor) / 2
    what = f"p99 {now:.0f} ms vs baseline {base:.0f} ms"
    # The tail moved only if several writes went past the old tail: at a few writes per
    # second the current p99 is the one slowest write. (Counting writes past the warning
    # threshold instead asks a quiet unit whose every write got twice as slow for more
    # writes than its window holds.) p99 is a 1 % tail, so a few seconds of slower writes
    # move the baseline's p99 too: the baseline freezes on the level alone, while the
    # slow writes are still being counted.
    moved = _enough_slow_writes(levels, settings, normal)
    return Verdict(now >= warn_at and moved, now >= stay_at and moved, what, suspect=now >= stay_at)


def _enough_slow_writes(levels: Levels, settings: TrendSettings, ms: float) -> bool:
    # At a few writes per second the current window holds a few dozen writes, so its
    # 1 % tail is one write, and one write slowed by a busy machine is not a slow unit.
    # (A busy unit has 1 % of its window past its p99 anyway: the rule bites only quiet.)
    window_seconds = settings.current_half_life_seconds / math.log(2)
    slow = slower_than(levels.current, levels.bounds_ms, ms) * window_seconds
    return slow >= settings.min_slow_writes


def _type_mix(levels: Levels, settings: TrendSettings) -> Verdict | None:
    if not _both_busy(levels, settings):
        return None
    now, base = mix(levels.current), mix(levels.baseline)
    moved = max(now, key=lambda t: abs(now[t] - base[t]))
    shift = abs(now[moved] - base[moved])
    what = f"{moved} share {now[moved]:.2f} vs baseline {base[moved]:.2f}"
    return Verdict(shift >= settings.mix_shift, shift >= settings.mix_shift / 2, what)


RULES: dict[str, Rule] = {
    "decline_ratio": _ratio_rule(
        "declined", ("approved", "declined"), "decline ratio", "decline_ratio_factor"
    ),
    "failure_ratio": _ratio_rule(
        "failed", ("approved", "declined", "failed"), "failure ratio", "failure_ratio_factor"
    ),
    "approvals_drop": _approvals_drop,
    "p99_latency": _p99,
    "type_mix": _type_mix,
}
