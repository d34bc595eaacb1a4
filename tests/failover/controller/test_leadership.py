"""The leader lease: one leader, fenced before its lease can expire on the store."""

from __future__ import annotations

from harness import Clock

from failover.controller.leadership import LeaderInfo, LeaderLease
from failover.dcs import Keys, MemoryDcs
from failover.topology import Timing

TIMING = Timing(controller_lease_ttl_seconds=3, fence_margin_seconds=1.0)


def lease(dcs: MemoryDcs, clock: Clock, site: str) -> LeaderLease:
    return LeaderLease(dcs, Keys("t"), LeaderInfo(site, site, f"http://{site}"), TIMING, clock)


def test_only_one_controller_holds_the_lease() -> None:
    clock = Clock()
    dcs = MemoryDcs(clock)
    a, b = lease(dcs, clock, "a"), lease(dcs, clock, "b")
    a.tick()
    b.tick()
    assert a.valid() and not b.valid()
    assert b.holder == LeaderInfo("a", "a", "http://a")


def test_a_leader_is_fenced_before_its_lease_expires_on_the_store() -> None:
    clock = Clock()
    dcs = MemoryDcs(clock)
    a = lease(dcs, clock, "a")
    a.tick()
    clock.now += 2.5  # past TTL − margin, before the TTL
    assert not a.valid()
    assert dcs.get(Keys("t").leader) is not None


def test_another_controller_takes_over_once_the_leaders_lease_expires() -> None:
    clock = Clock()
    dcs = MemoryDcs(clock)
    a, b = lease(dcs, clock, "a"), lease(dcs, clock, "b")
    a.tick()
    clock.now += 3.5
    b.tick()
    assert b.valid()
    a.tick()
    assert not a.valid()
    assert a.holder == LeaderInfo("b", "b", "http://b")


def test_a_kept_alive_lease_stays_valid_and_resigning_frees_it() -> None:
    clock = Clock()
    dcs = MemoryDcs(clock)
    a, b = lease(dcs, clock, "a"), lease(dcs, clock, "b")
    for _ in range(5):
        a.tick()
        clock.now += 1.0
    assert a.valid()
    a.resign()
    b.tick()
    assert b.valid()
