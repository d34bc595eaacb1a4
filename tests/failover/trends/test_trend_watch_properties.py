"""Properties of the trend watch over arbitrary traffic (hypothesis): what must never
warn, and what must always warn, within a stated time, once the baseline is warm."""

from __future__ import annotations

from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st
from trend_traffic import Behaviour, Platform

from failover.trend_settings import TrendSettings
from failover.trends import TrendWatch

SETTINGS = TrendSettings()
WARM = int(SETTINGS.warmup_seconds) + 60
#: A departure of the stated size crosses its threshold within ~25 s (current level's
#: half-life 5 s, the baseline frozen as soon as it looks suspect) and must then hold
#: for ``hold_seconds``.
WARNS_WITHIN = 25 + int(SETTINGS.hold_seconds)

ROUTES = {"u00": "production", "u01": "same-city", "u02": "production", "u03": "same-city"}

behaviours = st.builds(
    Behaviour,
    approved=st.floats(2.0, 40.0),
    declined=st.floats(0.0, 3.0),
    failed=st.floats(0.0, 0.2),
    payments=st.floats(0.0, 1.5),
    latency_ms=st.floats(3.0, 400.0),
)
noise = st.lists(st.floats(0.8, 1.2), min_size=1, max_size=17)
every_unit = st.fixed_dictionaries({u: behaviours for u in ROUTES})
every_noise = st.fixed_dictionaries({u: noise for u in ROUTES})
# No shrinking: one example simulates minutes of traffic, and shrinking a failure took
# over five minutes of a shared machine; the unshrunk example is readable enough.
slow = settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)


@slow
@given(every_unit, every_noise)
def test_steady_traffic_with_noise_never_warns(
    steady: dict[str, Behaviour], jitter: dict[str, list[float]]
) -> None:
    platform = Platform(ROUTES, TrendWatch())
    platform.run(WARM + 200, steady, jitter)
    assert platform.raised == []


@slow
@given(every_unit, st.sampled_from(sorted(ROUTES)), st.floats(3.0, 5.0))
def test_a_decline_ratio_that_triples_warns_for_that_unit_within_the_stated_time(
    steady: dict[str, Behaviour], unit: str, factor: float
) -> None:
    base = steady[unit]
    total = base.approved + base.declined
    ratio = max(base.declined / total, SETTINGS.ratio_floor) * factor
    assume(ratio <= 1.0)  # a ratio of 0.5 cannot triple
    # At least one decline every two seconds: fewer is too few events to see a ratio
    # in seconds (the current level's half-life), whatever the method.
    assume(total * ratio >= 0.5)
    bad = {**steady, unit: Behaviour(
        approved=total * (1 - ratio), declined=total * ratio,
        failed=base.failed, payments=0.0, latency_ms=base.latency_ms,
    )}  # fmt: skip
    platform = Platform(ROUTES, TrendWatch())
    platform.run(WARM, steady)
    platform.run(WARNS_WITHIN, bad)
    kinds = {w.kind for w in platform.raised_for(unit)}
    assert "decline_ratio" in kinds, (base, bad[unit], platform.raised)
    assert all(w.unit in (unit, None) for w in platform.raised)


@slow
@given(every_unit, st.sampled_from(sorted(ROUTES)), st.floats(0.8, 1.0))
def test_approvals_that_drop_by_80_percent_warn_for_that_unit_within_the_stated_time(
    steady: dict[str, Behaviour], unit: str, drop: float
) -> None:
    bad = {**steady, unit: steady[unit].scaled(1 - drop)}
    platform = Platform(ROUTES, TrendWatch())
    platform.run(WARM, steady)
    platform.run(WARNS_WITHIN, bad)
    assert "approvals_drop" in {w.kind for w in platform.raised_for(unit)}
    assert all(w.unit in (unit, None) for w in platform.raised)


@slow
@given(every_unit, st.sampled_from(sorted(ROUTES)), st.floats(2.0, 4.0))
def test_a_p99_that_doubles_warns_for_that_unit_within_the_stated_time(
    steady: dict[str, Behaviour], unit: str, factor: float
) -> None:
    base = steady[unit]
    bad = {**steady, unit: Behaviour(
        base.approved, base.declined, base.failed, base.payments,
        max(base.latency_ms, SETTINGS.latency_floor_ms) * factor,
    )}  # fmt: skip
    platform = Platform(ROUTES, TrendWatch())
    platform.run(WARM, steady)
    platform.run(WARNS_WITHIN, bad)
    assert "p99_latency" in {w.kind for w in platform.raised_for(unit)}, (base, bad[unit])
    assert all(w.unit in (unit, None) for w in platform.raised)


@slow
@given(every_unit, st.floats(0.1, 10.0))
def test_scaling_every_units_traffic_together_raises_no_unit_warning(
    steady: dict[str, Behaviour], factor: float
) -> None:
    """A night-time drop (or a morning rise) everywhere at once: ratios, mix and latency
    do not move, and each unit's approvals move exactly as its peers' do."""
    platform = Platform(ROUTES, TrendWatch())
    platform.run(WARM, steady)
    night = {u: b.scaled(factor) for u, b in steady.items()}
    if any(b.approved + b.declined < 2 * SETTINGS.min_writes_per_second for b in night.values()):
        return  # below the volume guard nothing is judged at all (the idle property)
    platform.run(WARNS_WITHIN + 60, night)
    assert [w for w in platform.raised if w.unit is not None] == []
    assert {w.kind for w in platform.raised} <= {"approvals_drop"}


def _idle(behaviour: Behaviour) -> Behaviour:
    """The same traffic thinned to at most 0.2 writes/s: below the volume guard (0.5/s)
    for every unit and for every site's sum (two units per site here)."""
    total = behaviour.approved + behaviour.declined + behaviour.failed
    return behaviour.scaled(min(1.0, 0.2 / total))


@slow
@given(every_unit, every_unit)
def test_an_idle_unit_never_warns_whatever_its_few_writes_do(
    before: dict[str, Behaviour], after: dict[str, Behaviour]
) -> None:
    platform = Platform(ROUTES, TrendWatch())
    platform.run(WARM, {u: _idle(b) for u, b in before.items()})
    platform.run(WARNS_WITHIN + 30, {u: _idle(b) for u, b in after.items()})
    assert platform.raised == []
