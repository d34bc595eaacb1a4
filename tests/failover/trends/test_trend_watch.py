"""The trend watch by example: the sentence it says, when it clears, and what it ignores."""

from __future__ import annotations

from trend_traffic import Behaviour, Platform

from failover.trend_settings import TrendSettings
from failover.trends import TrendWatch, parse_sample

ROUTES = {"u00": "production", "u01": "same-city", "u02": "production", "u03": "same-city"}
STEADY = {u: Behaviour() for u in ROUTES}
DECLINING = {**STEADY, "u03": Behaviour(approved=5.0, declined=3.4)}
#: The short windows the gray-unit drills and the real-platform trend test use.
DRILL_WINDOWS = TrendSettings(
    baseline_half_life_seconds=60, current_half_life_seconds=3, warmup_seconds=15, hold_seconds=5
)


def test_a_unit_that_starts_declining_warns_with_a_sentence_naming_it_and_its_site() -> None:
    platform = Platform(ROUTES, TrendWatch())
    platform.run(180, STEADY)
    platform.run(60, DECLINING)
    unit = [w for w in platform.raised if w.unit == "u03"]
    assert [w.kind for w in unit] == ["decline_ratio"]
    assert unit[0].site == "same-city"
    assert unit[0].reason.startswith("u03: decline ratio 0.")
    assert unit[0].reason.endswith("vs baseline 0.05 for 30 s")
    assert {w.scope for w in platform.raised} <= {"u03", "same-city"}


def test_a_warning_clears_once_the_traffic_is_back_to_normal_and_not_before() -> None:
    platform = Platform(ROUTES, TrendWatch())
    platform.run(180, STEADY)
    platform.run(60, DECLINING)
    platform.run(600, DECLINING)
    assert platform.cleared == []  # the baseline does not learn the fault meanwhile
    platform.run(30, STEADY)
    cleared = [(w.scope, why) for w, why in platform.cleared if w.unit == "u03"]
    assert len(cleared) == 1
    assert cleared[0][1].startswith("u03: back to normal: decline ratio")
    assert [w for w in platform.watch.active if w.unit == "u03"] == []


def test_nothing_warns_before_the_warm_up_however_the_traffic_moves() -> None:
    settings = TrendSettings()
    platform = Platform(ROUTES, TrendWatch(DRILL_WINDOWS))
    platform.run(10, STEADY)
    platform.run(int(settings.warmup_seconds) - 20, DECLINING)
    assert platform.raised == []


def test_a_restarted_instance_starts_a_new_series_and_is_no_departure() -> None:
    watch = TrendWatch()
    platform = Platform(ROUTES, watch)
    platform.run(180, STEADY)
    fresh = Platform(ROUTES, watch)  # new processes: new boot ids, counters at zero
    fresh.now = platform.now
    fresh.run(60, STEADY)
    assert platform.raised == fresh.raised == []


def test_a_malformed_or_missing_traffic_object_is_ignored() -> None:
    assert parse_sample(None) is None
    assert parse_sample({"boot": "b", "at": 1.0, "writes": {"purchase/lost": 1}}) is None
    assert parse_sample({"boot": "b", "at": True, "writes": {}}) is None
    good = {"boot": "b", "at": 1, "writes": {}, "latency_bounds_ms": [1], "latency_counts": [0, 0]}
    assert parse_sample(good) is not None
    assert parse_sample({**good, "latency_counts": [0]}) is None
    update = TrendWatch().observe(1.0, ROUTES, {"u00": "nonsense"})
    assert update.raised == update.active == ()


def test_when_every_unit_goes_quiet_at_once_no_unit_warns_of_dropped_approvals() -> None:
    platform = Platform(ROUTES, TrendWatch())
    platform.run(180, STEADY)
    platform.run(120, {u: Behaviour(0.0, 0.0, 0.0, 0.0) for u in ROUTES})
    assert platform.raised == []


def test_one_unit_going_quiet_while_the_others_write_warns_of_its_dropped_approvals() -> None:
    platform = Platform(ROUTES, TrendWatch())
    platform.run(180, STEADY)
    platform.run(60, {**STEADY, "u01": Behaviour(0.0, 0.0, 0.0, 0.0)})
    assert [(w.unit, w.kind) for w in platform.raised if w.unit] == [("u01", "approvals_drop")]
    assert platform.raised_for("u01")[0].reason.startswith("u01: approvals 0.0/s vs ")


def test_a_unit_turning_500_ms_slow_warns_even_while_its_baseline_is_young() -> None:
    # The gray-unit-slow drill's windows: 30 s of history, a 60 s baseline half-life.
    # p99 is a 1 % tail: a baseline that learned the first slow second before it was
    # judged would read slow too, and the departure would never show.
    platform = Platform(ROUTES, TrendWatch(DRILL_WINDOWS))
    platform.run(30, STEADY)
    platform.run(20, {**STEADY, "u02": Behaviour(latency_ms=520.0)})
    unit = [w for w in platform.raised if w.unit == "u02"]
    assert [w.kind for w in unit] == ["p99_latency"], platform.raised
    assert unit[0].since - platform.now + 20 <= 2  # departed within 2 s of the slowness


def test_one_slow_write_every_few_seconds_on_a_quiet_unit_is_not_a_slow_unit() -> None:
    # The trend-warning test's windows and rates: some 6 writes a second per unit, so
    # the current window holds about 26 writes and its p99 is the slowest of them. One
    # write in 40 taking 140 ms against a 50-ms normal moved that p99 for seconds.
    quiet = {u: Behaviour(approved=6.0, declined=0.2, latency_ms=40.0) for u in ROUTES}
    platform = Platform(ROUTES, TrendWatch(DRILL_WINDOWS))
    platform.run(40, quiet)
    for _ in range(12):
        platform.one_slow_write("u01", 140.0)
        platform.run(7, quiet)
    assert platform.raised == []


def test_a_quiet_unit_whose_every_write_turns_slow_still_warns() -> None:
    quiet = {u: Behaviour(approved=3.0, declined=0.1, latency_ms=40.0) for u in ROUTES}
    platform = Platform(ROUTES, TrendWatch(DRILL_WINDOWS))
    platform.run(40, quiet)
    platform.run(20, {**quiet, "u01": Behaviour(approved=3.0, declined=0.1, latency_ms=140.0)})
    assert [(w.unit, w.kind) for w in platform.raised if w.unit] == [("u01", "p99_latency")]


def test_a_unit_at_two_writes_a_second_whose_writes_get_twice_as_slow_warns() -> None:
    # Found by the hypothesis property: with the default windows the current window
    # holds ~14 writes, and only ~2 of them go past 1.6x the old p99. They must count
    # past the old tail, and the baseline must not learn the slower tail meanwhile.
    two_a_second = Behaviour(approved=2.0, declined=0.0, payments=0.0, latency_ms=20.0)
    quiet = dict.fromkeys(ROUTES, two_a_second)
    platform = Platform(ROUTES, TrendWatch())
    platform.run(int(TrendSettings().warmup_seconds) + 60, quiet)
    platform.run(55, {**quiet, "u02": Behaviour(2.0, 0.0, 0.0, 0.0, latency_ms=40.0)})
    assert [(w.unit, w.kind) for w in platform.raised if w.unit] == [("u02", "p99_latency")]
