"""The controller cycle against fakes at our ports (MemoryDcs, fake unit instances)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from harness import World

from failover.controller.builder import SnapshotBuilder
from failover.controller.state import ControllerState, ReplicationMark
from failover.controller.units import RoleChange
from failover.dcs import Keys, RouteStore
from failover.snapshot import InFlightPromotion

EVEN = ["u00", "u02", "u04", "u06"]
ODD = ["u01", "u03", "u05", "u07"]


def take_down(world: World, site: str) -> None:
    world.units.down.add(site)
    world.drop_leases_in(site)


def test_a_healthy_world_gives_no_action(world: World) -> None:
    assert world.cycle() == "no action: 3/3 sites healthy"
    assert world.log == []


def test_production_down_moves_its_units_to_same_city_at_the_next_epoch(world: World) -> None:
    world.cycle()
    take_down(world, "production")
    sentences = [world.cycle() for _ in range(4)]
    assert any(
        s.startswith(
            "failing over u00,u02,u04,u06 production→same-city: quorum 2/3 saw production down"
        )
        for s in sentences
    )
    assert [world.route(u) for u in EVEN] == [("same-city", 2)] * 4
    assert [world.route(u) for u in ODD] == [("same-city", 1)] * 4
    for unit in EVEN:
        assert world.units.instances[unit, "same-city"].role == "primary"
        assert world.units.instances[unit, "same-city"].epoch == 2


def test_surviving_primaries_are_told_nothing_when_production_dies(world: World) -> None:
    take_down(world, "production")
    for _ in range(4):
        world.cycle()
    assert not [line for line in world.log if any(f" {u}@" in line for u in ODD)]
    kinds = world.kinds()
    assert kinds.index("site_down") < kinds.index("promoting") < kinds.index("promoted")


def test_a_city_standby_behind_the_remote_one_is_caught_up_before_its_route_moves(
    world: World,
) -> None:
    for site, lsn in (("production", 9), ("same-city", 3), ("remote-dr", 9)):
        instance = world.units.instances["u00", site]
        instance.last_lsn, instance.last_entry_epoch = lsn, 1
    world.cycle()
    take_down(world, "production")
    sentences = [world.cycle() for _ in range(4)]
    assert any("caught up from remote-dr to lsn 9 first" in s for s in sentences), sentences
    log = [line for line in world.log if "u00@" in line]
    assert log == ["catch-up u00@same-city from remote-dr", "role u00@same-city primary e2"]
    assert world.units.instances["u00", "same-city"].last_lsn == 9
    assert "caught_up" in world.kinds()


def test_a_partition_between_the_city_a_sites_moves_nothing(world: World) -> None:
    world.cuts.add(frozenset(("production", "same-city")))
    sentences = [world.cycle() for _ in range(10)]
    assert all(s.startswith("no action") for s in sentences)
    assert "production suspect" in sentences[-1]
    assert world.log == []
    assert {world.route(u)[1] for u in EVEN + ODD} == {1}


def test_a_crashed_standby_process_changes_nothing(world: World) -> None:
    world.cycle()
    world.units.crashed.add(("u00", "same-city"))  # u00's primary is in production
    sentences = [world.cycle() for _ in range(4)]
    assert all(s.startswith("no action") for s in sentences), sentences
    assert world.log == []


def test_a_controller_that_does_not_lead_only_observes(world: World, tmp_path: Path) -> None:
    world.cycle()
    follower = world.controller(tmp_path, "remote-dr")
    follower.leadership.tick()
    take_down(world, "production")
    for _ in range(4):
        world.clock.sleep(1.0)
        world.publish_rounds()
        sentence = follower.controller.run_cycle()
    assert sentence == "standing by: remote-dr is not the leader (same-city holds the lease)"
    assert world.log == []


def test_a_leader_past_its_fence_point_does_not_act(world: World) -> None:
    world.cycle()
    take_down(world, "production")
    for _ in range(3):
        world.clock.sleep(1.0)
        world.publish_rounds()
        sentence = world.runtime.controller.run_cycle()  # no keepalive: the lease runs out
    assert sentence.startswith("standing by: same-city is not the leader")
    assert world.log == []
    assert [world.route(u) for u in EVEN] == [("production", 1)] * 4


def test_a_leader_that_loses_its_lease_mid_cycle_stops_at_once(world: World) -> None:
    original = world.units.set_role

    def slow(unit: str, site: str, change: RoleChange) -> dict[str, object]:
        world.clock.sleep(5.0)  # this call outlives the leader lease
        return original(unit, site, change)

    world.units.set_role = slow  # type: ignore[method-assign]
    take_down(world, "production")
    sentences = [world.cycle() for _ in range(3)]
    assert sentences[-1].startswith("stopped: same-city lost the leader lease mid-cycle")
    assert len(world.log) == 1


def test_a_promotion_whose_route_moved_before_a_crash_is_completed(world: World) -> None:
    take_down(world, "production")
    state = ControllerState(world.dcs, world.keys)
    op = InFlightPromotion("op-1", "u00", "production", "same-city", 1, 2, world.clock.wall())
    state.start_operation(op)
    RouteStore(world.dcs, world.topology.name).move_route("u00", 1, "same-city")
    sentences = [world.cycle() for _ in range(2)]
    assert "completing promotion of u00 to same-city epoch 2" in sentences[0]
    assert world.units.instances["u00", "same-city"].role == "primary"
    assert state.operations() == []


def test_both_city_a_sites_down_waits_for_an_approval_that_states_the_loss(
    tmp_path: Path,
) -> None:
    world = World(tmp_path, site="remote-dr")
    state = ControllerState(world.dcs, world.keys)
    for unit in world.topology.units:
        world.units.instances[unit, "remote-dr"].last_lsn = 7
    world.cycle()
    state.put_mark("u00", ReplicationMark(1, acknowledged_lsn=10))
    take_down(world, "production")
    take_down(world, "same-city")
    sentences = [world.cycle() for _ in range(4)]
    assert any("requesting approval to promote" in s for s in sentences)
    assert world.route("u00") == ("production", 1)
    pending = {a.unit: a for a in state.approvals() if a.status == "pending"}
    assert pending["u00"].estimated_loss == 3
    assert pending["u01"].estimated_loss == 0
    world.runtime.approve(pending["u00"].id, None, "test")
    world.cycle()
    assert world.route("u00") == ("remote-dr", 2)
    assert world.route("u02") == ("production", 1)
    promoted = [e for e in world.runtime.records.events() if e.kind == "promoted"]
    assert [(e.unit, e.data["accepted_loss"]) for e in promoted] == [("u00", 3)]


def test_a_primary_that_lost_its_lease_key_is_re_promoted_in_place(world: World) -> None:
    world.cycle()
    world.dcs.delete(world.keys.primary_lease("u03"))
    world.leases.pop("u03")
    sentences = [world.cycle() for _ in range(4)]
    assert any("re-promoting u03 in same-city at epoch 2" in s for s in sentences)
    assert world.route("u03") == ("same-city", 2)
    assert world.units.instances["u03", "same-city"].epoch == 2
    assert [world.route(u) for u in ("u00", "u01")] == [("production", 1), ("same-city", 1)]


def test_the_leader_gives_a_unit_without_a_route_its_first_one_and_records_it(
    world: World,
) -> None:
    keys = Keys(world.topology.name)
    world.dcs.delete(keys.route("u03"))
    world.cycle()
    assert world.route("u03") == (world.topology.placement("u03").primary, 1)
    (seeded,) = [e for e in world.runtime.records.events() if e.kind == "routes_seeded"]
    assert seeded.data["units"] == ["u03"]


def test_seeding_never_rewinds_a_unit_that_moved(world: World) -> None:
    world.cycle()
    take_down(world, "production")
    while not world.log:
        world.cycle()
    moved = RouteStore(world.dcs, world.topology.name).all_routes()
    world.cycle()
    assert RouteStore(world.dcs, world.topology.name).all_routes() == moved
    assert "routes_seeded" not in world.kinds()


def test_a_cycle_reads_the_whole_store_in_one_request(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.cycle()
    reads: list[str] = []
    for method in ("get", "get_prefix"):
        real = getattr(world.dcs, method)

        def counted(key: str, real: Any = real, method: str = method) -> Any:
            reads.append(f"{method} {key}")
            return real(key)

        monkeypatch.setattr(world.dcs, method, counted)
    builder = SnapshotBuilder(world.topology, world.dcs, "same-city", lambda: "same-city")
    world_seen = builder.build()
    assert reads == [f"get_prefix {world.keys.root}"]
    assert set(world_seen.snapshot.routes) == set(world.topology.units)
    assert set(world_seen.snapshot.leases) == set(world.topology.units)
    assert set(world_seen.snapshot.observer_reports) == set(world.topology.site_names)


def test_a_unit_whose_lease_lapses_mid_promotion_of_others_moves_without_waiting_for_them(
    world: World,
) -> None:
    world.cycle()
    take_down(world, "production")
    held_key = world.keys.primary_lease("u00")
    world.dcs.put(held_key, '{"epoch":1,"site":"production"}')  # u00's old lease: not yet lapsed
    gate = threading.Event()
    original = world.units.set_role

    def slow_promotion(unit: str, site: str, change: RoleChange) -> dict[str, object]:
        if unit != "u00" and change.role == "primary":
            # Meanwhile u00's old lease lapses: the lease watch deletes nothing here, so
            # the test does what etcd would, and wakes the cycle as the watch would.
            if world.dcs.get(held_key) is not None:
                world.dcs.delete(held_key)
                world.runtime.controller.wake()
            assert gate.wait(10), "the test never opened the gate"
        return original(unit, site, change)

    world.units.set_role = slow_promotion  # type: ignore[method-assign]
    sentences = [world.cycle(join=False) for _ in range(5)]
    deadline = time.monotonic() + 5
    while world.units.instances["u00", "same-city"].role != "primary":
        assert time.monotonic() < deadline, f"u00 never moved: {sentences}"
        time.sleep(0.01)
    assert [world.units.instances[u, "same-city"].role for u in EVEN[1:]] == ["standby"] * 3
    assert any("u02, u04, u06 still acting: left running" in s for s in sentences), sentences
    assert any("u02,u04,u06 steps of an earlier cycle still running" in s for s in sentences)
    gate.set()
    world.runtime.controller.join_steps()
    assert [world.route(u) for u in EVEN] == [("same-city", 2)] * 4
    promotions = [line for line in world.log if line.endswith("primary e2")]
    assert sorted(promotions) == sorted(f"role {u}@same-city primary e2" for u in EVEN)
