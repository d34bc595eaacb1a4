"""What wakes the controller's cycle early (failover/controller/wakeups.py): the pure
rules, then the watches over the in-memory DCS."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from failover.controller.wakeups import (
    Counters,
    CycleWakeups,
    lease_lapsed,
    report_calls_for_a_cycle,
)
from failover.dcs import Keys, WatchEvent, WatchKind, WatchUpdate
from failover.dcs.memory import MemoryDcs
from failover.observer.report import PublishedReport

KEYS = Keys("watertight")


def report(observer: str, production: int = 0, instance: int = 0) -> str:
    return PublishedReport(
        observer=observer,
        reported_at=1.0,
        site_failures={"production": production, "remote-dr": 0},
        instance_failures={("u01", "same-city"): instance},
    ).encode()


def wired() -> tuple[MemoryDcs, list[int]]:
    dcs = MemoryDcs(clock=lambda: 0.0)
    woken: list[int] = []
    CycleWakeups(dcs, KEYS, lambda: woken.append(1)).start()
    return dcs, woken


counter_sets = st.lists(st.tuples(st.sampled_from(["a", "b", "u/s"]), st.integers(0, 5)))


@given(before=st.none() | counter_sets.map(tuple), now=counter_sets.map(tuple))
def test_only_a_changed_report_with_a_failed_round_calls_for_a_cycle(
    before: Counters | None, now: Counters
) -> None:
    called = report_calls_for_a_cycle(before, now)
    assert called == (now != before and any(n for _, n in now))


def test_a_deleted_key_is_a_lapsed_lease_and_a_new_one_is_not() -> None:
    deleted = WatchUpdate(WatchKind.CHANGES, 7, events=[WatchEvent("k", None, 7)])
    written = WatchUpdate(WatchKind.CHANGES, 8, events=[WatchEvent("k", "{}", 8)])
    assert lease_lapsed(deleted)
    assert not lease_lapsed(written)
    assert not lease_lapsed(WatchUpdate(WatchKind.SNAPSHOT, 9))


def test_a_healthy_platforms_reports_wake_nothing_however_often_published() -> None:
    dcs, woken = wired()
    for _ in range(5):
        for site in ("production", "same-city", "remote-dr"):
            dcs.put(KEYS.observer(site), report(site))
    assert woken == []


def test_each_new_failed_round_wakes_the_cycle_once() -> None:
    dcs, woken = wired()
    dcs.put(KEYS.observer("same-city"), report("same-city", production=1))
    dcs.put(KEYS.observer("same-city"), report("same-city", production=1))  # no news
    dcs.put(KEYS.observer("remote-dr"), report("remote-dr", production=1))
    dcs.put(KEYS.observer("same-city"), report("same-city", production=2))
    dcs.put(KEYS.observer("same-city"), report("same-city", instance=1))
    assert len(woken) == 4


def test_a_primary_lease_that_lapses_wakes_the_cycle() -> None:
    dcs, woken = wired()
    lease = dcs.grant(4)
    dcs.put(KEYS.primary_lease("u00"), '{"epoch": 1, "site": "production"}', lease=lease.id)
    assert woken == []
    dcs.revoke(lease.id)
    assert woken == [1]


def test_an_unreadable_report_wakes_nothing_and_breaks_nothing() -> None:
    dcs, woken = wired()
    dcs.put(KEYS.observer("same-city"), "not json")
    dcs.put(KEYS.observer("same-city"), report("same-city", production=1))
    assert woken == [1]
