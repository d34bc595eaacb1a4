"""Synthetic business traffic for the trend watch's tests, written through the unit
service's real counters (``app.traffic``) on an injected clock, one second at a time."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from app.traffic import TrafficCounters
from failover.trends import TrendUpdate, TrendWarning, TrendWatch


@dataclass(frozen=True)
class Behaviour:
    """What a unit's customers do each second, and how long its writes take."""

    approved: float = 8.0
    declined: float = 0.4
    failed: float = 0.0
    payments: float = 1.0
    latency_ms: float = 20.0

    def scaled(self, factor: float) -> Behaviour:
        return replace(
            self,
            approved=self.approved * factor,
            declined=self.declined * factor,
            failed=self.failed * factor,
            payments=self.payments * factor,
        )


# Latencies of successive writes spread over ±40 % of the nominal, like real ones.
_SPREAD = (0.6, 0.8, 1.0, 1.2, 1.4, 0.9, 1.1, 0.7, 1.3, 1.0)


@dataclass
class _Unit:
    clock: list[float]
    counters: TrafficCounters
    carry: dict[str, float] = field(default_factory=dict)
    written: int = 0

    def second(self, behaviour: Behaviour, noise: float = 1.0) -> None:
        for outcome, kind, rate in (
            ("approved", "purchase", behaviour.approved - behaviour.payments),
            ("approved", "payment", behaviour.payments),
            ("declined", "purchase", behaviour.declined),
            ("failed", "purchase", behaviour.failed),
        ):
            key = f"{kind}/{outcome}"
            self.carry[key] = self.carry.get(key, 0.0) + max(rate, 0.0) * noise
            while self.carry[key] >= 1.0:
                self.carry[key] -= 1.0
                spread = _SPREAD[self.written % len(_SPREAD)]
                self.counters.record(kind, outcome, behaviour.latency_ms * spread / 1000.0)
                self.written += 1
        self.clock[0] += 1.0


class Platform:
    """Units on sites, each with its own counters and clock offset, and one watch."""

    def __init__(self, routes: Mapping[str, str], watch: TrendWatch) -> None:
        self.routes = dict(routes)
        self.watch = watch
        self.now = 1000.0
        self._units: dict[str, _Unit] = {}
        for i, unit in enumerate(routes):
            clock = [50.0 * i]  # every instance's monotonic clock starts elsewhere
            self._units[unit] = _Unit(clock, TrafficCounters(clock=lambda c=clock: c[0]))
        self.raised: list[TrendWarning] = []
        self.cleared: list[tuple[TrendWarning, str]] = []

    def run(
        self,
        seconds: int,
        behaviours: Mapping[str, Behaviour],
        noise: Mapping[str, list[float]] | None = None,
    ) -> TrendUpdate:
        update = TrendUpdate()
        for t in range(seconds):
            for unit, state in self._units.items():
                factors = (noise or {}).get(unit) or [1.0]
                state.second(behaviours[unit], factors[t % len(factors)])
            self.now += 1.0
            traffic: dict[str, Any] = {u: s.counters.view() for u, s in self._units.items()}
            update = self.watch.observe(self.now, self.routes, traffic)
            self.raised.extend(update.raised)
            self.cleared.extend(update.cleared)
        return update

    def one_slow_write(self, unit: str, latency_ms: float) -> None:
        """One more approved purchase for ``unit``, taking ``latency_ms``, this second."""
        self._units[unit].counters.record("purchase", "approved", latency_ms / 1000.0)

    def raised_for(self, scope: str) -> list[TrendWarning]:
        return [w for w in self.raised if w.scope == scope]
