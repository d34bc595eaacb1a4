"""Quorum verdicts: a site is down only when both other observers agree for N rounds."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from failover.quorum import (
    SEVERITY,
    InstanceHealth,
    SiteState,
    fresh_observers,
    instance_verdict,
    site_verdict,
    site_verdicts,
    stale_after_seconds,
)
from failover.snapshot import ObserverReport, steady_state
from failover.topology import Topology, default_topology, parse_topology

TOPOLOGY = default_topology()
SITES = TOPOLOGY.site_names
NOW = 1000.0
PROPERTY_SETTINGS = settings(max_examples=150, deadline=None)

Reports = dict[str, ObserverReport]


def report(observer: str, age: float = 0.0, **site_failures: int) -> ObserverReport:
    """An observer that reached everything except the given sites (keys with ``_``)."""
    failures = dict.fromkeys(SITES, 0)
    failures.update({k.replace("_", "-"): v for k, v in site_failures.items()})
    return ObserverReport(observer, NOW - age, failures)


def verdict_on(site: str, *reports: ObserverReport) -> SiteState:
    return site_verdict(site, {r.observer: r for r in reports}, NOW, TOPOLOGY).state


def test_both_other_observers_failing_for_n_rounds_make_a_site_down() -> None:
    reports = {
        "same-city": report("same-city", production=3),
        "remote-dr": report("remote-dr", production=4),
    }
    verdict = site_verdict("production", reports, NOW, TOPOLOGY)
    assert verdict.state is SiteState.DOWN
    assert verdict.failing == ("same-city", "remote-dr")
    assert verdict.rounds == 3
    assert verdict.reason == "quorum 2/3 saw production down for 3 rounds"


def test_one_observer_failing_leaves_the_site_suspect_not_down() -> None:
    state = verdict_on(
        "production", report("same-city", production=9), report("remote-dr", production=0)
    )
    assert state is SiteState.SUSPECT


def test_fewer_than_failure_rounds_is_suspect_not_down() -> None:
    state = verdict_on(
        "production", report("same-city", production=2), report("remote-dr", production=2)
    )
    assert state is SiteState.SUSPECT


def test_an_observer_never_votes_on_its_own_site() -> None:
    own = report("production", production=9)
    others = (report("same-city", production=3), report("remote-dr"))
    assert verdict_on("production", own, *others) is SiteState.SUSPECT
    verdict = site_verdict("production", {r.observer: r for r in (own, *others)}, NOW, TOPOLOGY)
    assert "production" not in verdict.voters


def test_partition_between_city_sites_seen_healthy_by_the_witness_downs_neither() -> None:
    reports = {
        "production": report("production", same_city=20),
        "same-city": report("same-city", production=20),
        "remote-dr": report("remote-dr"),
    }
    verdicts = {s: site_verdict(s, reports, NOW, TOPOLOGY) for s in SITES}
    assert verdicts["production"].state is SiteState.SUSPECT
    assert verdicts["same-city"].state is SiteState.SUSPECT
    assert verdicts["remote-dr"].state is SiteState.UP


def test_stale_observer_counts_neither_way() -> None:
    stale_age = stale_after_seconds(TOPOLOGY.timing) + 0.1
    state = verdict_on(
        "production",
        report("same-city", production=5),
        report("remote-dr", age=stale_age, production=5),
    )
    assert state is SiteState.UNCONFIRMED


def test_a_report_exactly_at_the_staleness_limit_still_votes() -> None:
    limit = stale_after_seconds(TOPOLOGY.timing)
    reports = {"a": report("same-city", age=limit), "b": report("remote-dr", age=limit + 0.01)}
    keyed = {r.observer: r for r in reports.values()}
    assert fresh_observers(keyed, NOW, TOPOLOGY) == ("same-city",)


def test_only_one_observer_left_seeing_both_city_sites_down_is_unconfirmed() -> None:
    reports = {"remote-dr": report("remote-dr", production=7, same_city=7)}
    verdicts = {s: site_verdict(s, reports, NOW, TOPOLOGY) for s in SITES}
    assert verdicts["production"].state is SiteState.UNCONFIRMED
    assert verdicts["same-city"].state is SiteState.UNCONFIRMED
    assert verdicts["remote-dr"].state is SiteState.UNKNOWN
    assert "only remote-dr still reports" in verdicts["production"].reason


def test_no_fresh_observer_outside_a_site_makes_it_unknown() -> None:
    assert verdict_on("same-city", report("same-city")) is SiteState.UNKNOWN


def test_an_observer_that_did_not_probe_a_site_is_not_a_voter() -> None:
    silent = ObserverReport("remote-dr", NOW, {"same-city": 0})
    verdict = site_verdict(
        "production",
        {"same-city": report("same-city", production=3), "remote-dr": silent},
        NOW,
        TOPOLOGY,
    )
    assert verdict.voters == ("same-city",)
    assert verdict.state is SiteState.UNCONFIRMED


def test_quorum_of_three_still_needs_only_the_two_observers_that_can_vote() -> None:
    strict = parse_topology(
        {
            "sites": [
                {"name": "production", "city": "city-a", "role": "active"},
                {"name": "same-city", "city": "city-a", "role": "active"},
                {"name": "remote-dr", "city": "city-b", "role": "dr"},
            ],
            "timing": {"quorum": 3},
        }
    )
    reports = {
        "same-city": report("same-city", production=3),
        "remote-dr": report("remote-dr", production=3),
    }
    assert site_verdict("production", reports, NOW, strict).state is SiteState.DOWN


def test_an_instance_is_dead_when_a_quorum_including_its_own_site_cannot_reach_it() -> None:
    key = ("u05", "same-city")
    reports = {
        "production": ObserverReport("production", NOW, {}, {key: 3}),
        "same-city": ObserverReport("same-city", NOW, {}, {key: 3}),
        "remote-dr": ObserverReport("remote-dr", NOW, {}, {key: 0}),
    }
    verdict = instance_verdict("u05", "same-city", reports, NOW, TOPOLOGY)
    assert verdict.health is InstanceHealth.DEAD
    assert verdict.reason == "quorum 2/3 could not reach the u05 instance in same-city for 3 rounds"
    assert not verdict.reachable_by_quorum


def test_an_instance_one_observer_cannot_reach_is_suspect_but_reachable_by_quorum() -> None:
    key = ("u05", "same-city")
    reports = {
        "production": ObserverReport("production", NOW, {}, {key: 9}),
        "same-city": ObserverReport("same-city", NOW, {}, {key: 0}),
        "remote-dr": ObserverReport("remote-dr", NOW, {}, {key: 0}),
    }
    verdict = instance_verdict("u05", "same-city", reports, NOW, TOPOLOGY)
    assert verdict.health is InstanceHealth.SUSPECT
    assert verdict.reachable_by_quorum
    assert not verdict.reached_by_every_voter


def test_site_verdicts_of_a_steady_snapshot_are_all_up() -> None:
    verdicts = site_verdicts(steady_state(TOPOLOGY, now=NOW))
    assert {v.state for v in verdicts.values()} == {SiteState.UP}
    assert verdicts["production"].reason == "production up: reached by same-city, remote-dr"


# --- properties ----------------------------------------------------------------------------

UNITS = ("u00", "u01")
COUNTS = st.integers(min_value=0, max_value=6)
AGES = st.sampled_from([0.0, 1.0, 2.5, 2.6, 30.0])


@st.composite
def observer_reports(draw: st.DrawFn) -> Reports:
    """Any mix of present, absent, fresh and stale reports with any failure counts."""
    reports: Reports = {}
    for observer in SITES:
        if draw(st.integers(0, 5)) == 0:
            continue
        site_failures = {t: draw(COUNTS) for t in SITES}
        instances = {(u, s): draw(COUNTS) for u in UNITS for s in SITES}
        reports[observer] = ObserverReport(observer, NOW - draw(AGES), site_failures, instances)
    return reports


def all_verdicts(
    reports: Mapping[str, ObserverReport], topology: Topology = TOPOLOGY
) -> dict[object, SiteState | InstanceHealth]:
    verdicts: dict[object, SiteState | InstanceHealth] = {
        s: site_verdict(s, reports, NOW, topology).state for s in SITES
    }
    for unit in UNITS:
        for site in SITES:
            verdicts[(unit, site)] = instance_verdict(unit, site, reports, NOW, topology).health
    return verdicts


@PROPERTY_SETTINGS
@given(observer_reports(), st.sampled_from(SITES))
def test_one_observers_view_never_decides(reports: Reports, loud: str) -> None:
    quiet = {
        o: replace(
            r,
            site_failures=dict.fromkeys(r.site_failures, 0),
            instance_failures=dict.fromkeys(r.instance_failures, 0),
        )
        for o, r in reports.items()
        if o != loud
    }
    if loud in reports:
        quiet[loud] = reports[loud]
    verdicts = all_verdicts(quiet)
    assert SiteState.DOWN not in verdicts.values()
    assert InstanceHealth.DEAD not in verdicts.values()


@PROPERTY_SETTINGS
@given(observer_reports(), st.data())
def test_verdicts_are_monotone_in_the_failure_counts(reports: Reports, data: st.DataObject) -> None:
    bumps = st.integers(min_value=0, max_value=4)
    worse = {
        o: replace(
            r,
            site_failures={t: c + data.draw(bumps) for t, c in r.site_failures.items()},
            instance_failures={k: c + data.draw(bumps) for k, c in r.instance_failures.items()},
        )
        for o, r in reports.items()
    }
    before, after = all_verdicts(reports), all_verdicts(worse)
    for key, state in before.items():
        if state in SEVERITY:
            assert SEVERITY[after[key]] >= SEVERITY[state], key


@PROPERTY_SETTINGS
@given(observer_reports(), st.sampled_from(SITES))
def test_an_observer_going_stale_never_makes_a_site_down(reports: Reports, lost: str) -> None:
    if lost not in reports:
        return
    staler = {**reports, lost: replace(reports[lost], reported_at=NOW - 1000)}
    for site in SITES:
        if site_verdict(site, staler, NOW, TOPOLOGY).down:
            assert site_verdict(site, reports, NOW, TOPOLOGY).down


@PROPERTY_SETTINGS
@given(observer_reports(), st.sampled_from(SITES), COUNTS)
def test_what_an_observer_says_of_its_own_site_never_changes_that_sites_verdict(
    reports: Reports, site: str, count: int
) -> None:
    if site not in reports:
        return
    own = reports[site]
    changed = {**reports, site: replace(own, site_failures={**own.site_failures, site: count})}
    assert site_verdict(site, changed, NOW, TOPOLOGY) == site_verdict(site, reports, NOW, TOPOLOGY)
