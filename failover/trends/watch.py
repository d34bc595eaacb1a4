"""The trend watch: per unit and per site, business traffic against its own recent
baseline; a sustained departure is a warning, never an action (docs/design.md §12).

Pure and deterministic: no clock, no I/O. The caller passes its own clock's ``now`` and,
per unit, the route's site and the raw ``traffic`` object its routed instance last
reported; :meth:`TrendWatch.observe` returns the warnings raised and cleared. Rates come
from the *instance's* own clock (``traffic.at``), so they are exact however late a
reading is relayed; ``now`` only times holds and the baseline's freeze.

Per unit, two EWMAs of every rate: the **current** level (half-life ~5 s, smooths
one-second noise) and the **baseline** (half-life ~5 min: a change slower than that is
the new normal). The baseline stops learning while the unit looks suspect (half-way to
any threshold) or warns, for at most ``baseline_freeze_max_seconds``: otherwise a step
drags the baseline after it and never crosses, and a lasting fault becomes the normal
under its own warning. A reading enters the baseline only **after** the cycle has judged
it: the reading that makes a unit suspect never reaches the baseline. (Learning first
let a slow unit hide: p99 is a 1 % tail, so one reading of 500 ms writes weighing over
1 % of the baseline — any reading while the baseline is still the plain mean of under
100 s — moved the baseline's p99 along with the current one, and the departure never
showed; found by the gray-unit-slow drill.) Ratios are taken of the levels, never
averaged, so scaling every rate together leaves them exactly as they were. A site's
levels are the sums of its units' (the units whose route is there now), so a unit moving
in or out moves its current level and its baseline together and is no departure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from failover.trend_settings import TrendSettings
from failover.trends.judge import KINDS, RULES, Levels
from failover.trends.signals import (
    Level,
    TrafficSample,
    add,
    blend,
    parse_sample,
    rates,
    step_weight,
    volume,
)


@dataclass(frozen=True, slots=True)
class TrendWarning:
    """A departure that held for ``hold_seconds``. ``unit`` None: a site's aggregate."""

    unit: str | None
    site: str
    kind: str
    reason: str
    since: float

    @property
    def scope(self) -> str:
        return self.unit if self.unit is not None else self.site


@dataclass(frozen=True, slots=True)
class TrendUpdate:
    """What one observation changed, and every warning standing after it."""

    raised: tuple[TrendWarning, ...] = ()
    cleared: tuple[tuple[TrendWarning, str], ...] = ()
    """Each cleared warning with the sentence saying why."""
    active: tuple[TrendWarning, ...] = ()


@dataclass
class _Unit:
    last: TrafficSample | None = None
    current: Level = field(default_factory=dict)
    baseline: Level = field(default_factory=dict)
    learned_seconds: float = 0.0
    suspect_since: float | None = None
    pending: tuple[Level, float] | None = None
    """This cycle's reading and its baseline weight, learned once the cycle judged it."""


@dataclass
class _Hold:
    since: float | None = None
    active: TrendWarning | None = None


class TrendWatch:
    """Baselines and warnings across cycles; feed it with :meth:`observe` each cycle."""

    def __init__(self, settings: TrendSettings | None = None) -> None:
        self.settings = settings or TrendSettings()
        self._units: dict[str, _Unit] = {}
        self._holds: dict[tuple[str, str], _Hold] = {}
        self._bounds: tuple[float, ...] = ()

    def observe(
        self, now: float, routes: Mapping[str, str], traffic: Mapping[str, Any]
    ) -> TrendUpdate:
        """One cycle: ``routes`` is unit → site of its route; ``traffic`` is unit → the
        ``traffic`` object its routed instance reported (absent or malformed: that unit
        learns nothing this cycle and keeps its warnings as they are)."""
        for unit in routes:
            sample = parse_sample(traffic.get(unit))
            if sample is not None:
                self._learn(unit, sample, now)
        raised: list[TrendWarning] = []
        cleared: list[tuple[TrendWarning, str]] = []
        ready = {u: s for u, s in routes.items() if self._warm(u)}
        everyone = self._volumes([self._units[u] for u in ready])
        for unit, site in ready.items():
            levels = self._levels([self._units[unit]], everyone)
            self._judge(now, unit, site, levels, raised, cleared)
        for site in sorted(set(ready.values())):
            mine = [self._units[u] for u, s in ready.items() if s == site]
            self._judge(now, None, site, self._levels(mine, everyone), raised, cleared)
        for (scope, _kind), hold in self._holds.items():
            if hold.active is not None and scope not in ready and scope not in ready.values():
                cleared.append((hold.active, f"{scope}: no longer judged (no traffic reported)"))
                hold.active, hold.since = None, None
        self._learn_baselines(now)
        active = tuple(h.active for h in self._holds.values() if h.active is not None)
        return TrendUpdate(tuple(raised), tuple(cleared), active)

    @property
    def active(self) -> tuple[TrendWarning, ...]:
        return tuple(h.active for h in self._holds.values() if h.active is not None)

    def levels(self, unit: str) -> tuple[Level, Level] | None:
        """A unit's (current, baseline) levels, None before its first rates."""
        state = self._units.get(unit)
        if state is None or not state.learned_seconds:
            return None
        return dict(state.current), dict(state.baseline)

    @property
    def bounds_ms(self) -> tuple[float, ...]:
        return self._bounds

    # -- learning --------------------------------------------------------------------

    def _learn(self, unit: str, sample: TrafficSample, now: float) -> None:
        state = self._units.setdefault(unit, _Unit())
        last = state.last
        if last is not None and sample.same_series(last) and sample.at <= last.at:
            return  # an older reading relayed late: nothing new
        observed = rates(last, sample) if last is not None else None
        state.last = sample
        if observed is None:
            return  # first reading of this series (a start, a restart, a move)
        self._bounds = sample.bounds_ms
        elapsed = sample.at - last.at if last is not None else 0.0
        settings = self.settings
        # Until a level has seen a few half-lives, weigh every second equally (the plain
        # mean so far): an EWMA seeded with the first second's few writes would carry that
        # noise for minutes, past the warm-up.
        mean = elapsed / (state.learned_seconds + elapsed)
        weight = max(mean, step_weight(elapsed, settings.current_half_life_seconds))
        state.current = blend(state.current, observed, weight)
        weight = max(mean, step_weight(elapsed, settings.baseline_half_life_seconds))
        state.pending = (observed, weight)
        state.learned_seconds += elapsed

    def _learn_baselines(self, now: float) -> None:
        """Each unit's reading of this cycle into its baseline, unless the judgement
        that just read it found the unit suspect (then the baseline is frozen)."""
        for unit, state in self._units.items():
            if state.pending is not None and not self._frozen(unit, now):
                state.baseline = blend(state.baseline, *state.pending)
            state.pending = None

    def _frozen(self, unit: str, now: float) -> bool:
        since = self._units[unit].suspect_since
        return since is not None and now - since < self.settings.baseline_freeze_max_seconds

    def _warm(self, unit: str) -> bool:
        state = self._units.get(unit)
        return state is not None and state.learned_seconds >= self.settings.warmup_seconds

    @staticmethod
    def _volumes(units: Sequence[_Unit]) -> tuple[float, float]:
        """(current, baseline) writes per second of ``units`` together."""
        return (sum(volume(u.current) for u in units), sum(volume(u.baseline) for u in units))

    def _levels(self, mine: Sequence[_Unit], everyone: tuple[float, float]) -> Levels:
        # The others' volumes are everyone's minus ours: linear in the number of units,
        # where summing the others for each unit would be quadratic (1024 units).
        ours = self._volumes(mine)
        current_others, base_others = everyone[0] - ours[0], everyone[1] - ours[1]
        scale = 1.0
        if base_others >= self.settings.min_writes_per_second:
            scale = max(current_others, 0.0) / base_others
        current, baseline = add([u.current for u in mine]), add([u.baseline for u in mine])
        return Levels(current, baseline, self._bounds, scale)

    # -- judging ---------------------------------------------------------------------

    def _judge(
        self,
        now: float,
        unit: str | None,
        site: str,
        levels: Levels,
        raised: list[TrendWarning],
        cleared: list[tuple[TrendWarning, str]],
    ) -> None:
        scope = unit if unit is not None else site
        suspect = False
        for kind in KINDS:
            hold = self._holds.setdefault((scope, kind), _Hold())
            verdict = RULES[kind](levels, self.settings)
            suspect = suspect or (verdict is not None and verdict.freezes_baseline)
            if hold.active is not None:
                if verdict is not None and verdict.stays:
                    continue
                why = verdict.what if verdict is not None else "too little traffic to judge"
                cleared.append((hold.active, f"{scope}: back to normal: {why}"))
                hold.active, hold.since = None, None
            elif verdict is None or not verdict.departs:
                hold.since = None
            else:
                hold.since = now if hold.since is None else hold.since
                held = now - hold.since
                if held >= self.settings.hold_seconds:
                    reason = f"{scope}: {verdict.what} for {held:.0f} s"
                    hold.active = TrendWarning(unit, site, kind, reason, hold.since)
                    raised.append(hold.active)
        if unit is not None:
            state = self._units[unit]
            if not suspect:
                state.suspect_since = None
            elif state.suspect_since is None:
                state.suspect_since = now
