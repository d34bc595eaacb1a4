"""The leader lease: one leader, fenced before its lease can expire on the store."""

from __future__ import annotations

from pathlib import Path

from harness import Clock, World

from failover.controller.leadership import LeaderInfo, LeaderLease
from failover.dcs import Keys, MemoryDcs
from failover.topology import Timing

TIMING = Timing(controller_lease_ttl_seconds=3, fence_margin_seconds=1.0)


def lease(dcs: MemoryDcs, clock: Clock, site: str, delay: float = 0.0) -> LeaderLease:
    me = LeaderInfo(site, site, f"http://{site}")
    return LeaderLease(dcs, Keys("t"), me, TIMING, clock, campaign_delay=delay)


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


def test_the_witness_controller_wins_a_free_lease_even_when_another_ticks_first() -> None:
    clock = Clock()
    dcs = MemoryDcs(clock)
    city, witness = lease(dcs, clock, "same-city", delay=1.0), lease(dcs, clock, "remote-dr")
    city.tick()
    clock.now += 0.5
    city.tick()
    witness.tick()
    city.tick()
    assert witness.valid() and not city.valid()
    assert city.holder == LeaderInfo("remote-dr", "remote-dr", "http://remote-dr")


def test_a_delayed_controller_takes_over_once_the_lease_stayed_free_for_its_delay() -> None:
    clock = Clock()
    dcs = MemoryDcs(clock)
    witness, city = lease(dcs, clock, "remote-dr"), lease(dcs, clock, "same-city", delay=1.0)
    witness.tick()
    city.tick()
    clock.now += 3.5  # the witness died: its lease expired
    city.tick()
    assert not city.valid()  # free seen just now
    clock.now += 0.6
    city.tick()
    assert not city.valid()
    clock.now += 0.5
    city.tick()
    assert city.valid()


def test_as_wired_only_the_witness_sites_controller_campaigns_at_once(tmp_path: Path) -> None:
    world = World(tmp_path)
    city = world.controller(tmp_path, "production", campaign_delay=None)
    witness = world.controller(tmp_path, "remote-dr", campaign_delay=None)
    city.leadership.tick()
    assert not city.leadership.valid()
    witness.leadership.tick()
    assert witness.leadership.valid()
