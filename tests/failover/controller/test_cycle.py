"""The controller cycle against fakes at our ports (MemoryDcs, fake unit instances)."""

from __future__ import annotations

from pathlib import Path

from harness import World

from failover.controller.state import ControllerState, ReplicationMark
from failover.controller.units import RoleChange
from failover.dcs import RouteStore
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


def test_a_primary_without_sync_standby_is_recorded_degraded_before_it_is_told(
    world: World,
) -> None:
    state = ControllerState(world.dcs, world.keys)
    seen: list[tuple[str, bool]] = []
    original = world.units.set_role

    def checking(unit: str, site: str, change: RoleChange) -> dict[str, object]:
        if change.role == "primary" and change.sync_standby is None:
            mark = state.marks().get(unit)
            seen.append(
                (unit, mark is not None and mark.sync_degraded and mark.epoch == change.epoch)
            )
        return original(unit, site, change)

    world.units.set_role = checking  # type: ignore[method-assign]
    take_down(world, "production")
    for _ in range(4):
        world.cycle()
    assert sorted(seen) == [(u, True) for u in sorted(EVEN + ODD)]


def test_surviving_primaries_drop_their_sync_standby_only_when_its_site_is_down(
    world: World,
) -> None:
    take_down(world, "production")
    for _ in range(4):
        world.cycle()
    for unit in ODD:
        assert world.units.instances[unit, "same-city"].sync_standby is None
    kinds = world.kinds()
    assert kinds.index("site_down") < kinds.index("promoting") < kinds.index("promoted")


def test_a_partition_between_the_city_a_sites_moves_nothing(world: World) -> None:
    world.cuts.add(frozenset(("production", "same-city")))
    sentences = [world.cycle() for _ in range(10)]
    assert all(s.startswith("no action") for s in sentences)
    assert "production suspect" in sentences[-1]
    assert world.log == []
    assert {world.route(u)[1] for u in EVEN + ODD} == {1}


def test_the_sync_standby_comes_back_when_its_site_is_up_and_caught_up(world: World) -> None:
    take_down(world, "production")
    for _ in range(4):
        world.cycle()
    world.units.down.clear()
    for unit in world.topology.units:  # production restarted as standbys following epoch
        instance = world.units.instances[unit, "production"]
        instance.role, instance.epoch = "standby", world.route(unit)[1]
    sentences = [world.cycle() for _ in range(3)]
    assert any("restoring production as the sync standby of u01" in s for s in sentences)
    for unit in EVEN + ODD:
        assert world.units.instances[unit, "same-city"].sync_standby == "production"


def test_a_healed_degraded_unit_fails_over_without_approval_after_its_primary_dies(
    world: World,
) -> None:
    # Chaos seeds 6 and 10: the mark of an old, healed episode outlived it and held the
    # failover of u01 for a person once its primary (which alone could report) was dead.
    take_down(world, "production")
    for _ in range(4):
        world.cycle()
    world.units.down.clear()
    for unit in world.topology.units:
        instance = world.units.instances[unit, "production"]
        instance.role, instance.epoch = "standby", world.route(unit)[1]
    for _ in range(3):
        world.cycle()
    assert "sync_healed" in world.kinds()
    assert world.units.instances["u01", "same-city"].sync_standby == "production"
    world.units.crashed.add(("u01", "same-city"))
    world.release_lease("u01", "same-city")
    sentences = [world.cycle() for _ in range(6)]
    assert not any("requesting approval" in s for s in sentences), sentences
    assert world.route("u01") == ("production", 2)


def test_a_crashed_sync_standby_process_degrades_only_its_unit_and_comes_back(
    world: World,
) -> None:
    world.cycle()
    world.units.crashed.add(("u00", "same-city"))  # u00's primary is in production
    sentences = [world.cycle() for _ in range(4)]
    assert any("degrading u00 in production to no sync standby" in s for s in sentences)
    assert world.units.instances["u00", "production"].sync_standby is None
    assert all(world.units.instances[u, "production"].sync_standby for u in EVEN[1:])
    assert [world.route(u) for u in EVEN + ODD] == [("production", 1)] * 4 + [("same-city", 1)] * 4
    world.units.crashed.clear()  # restarted as a standby of the same epoch
    sentences = [world.cycle() for _ in range(3)]
    assert any("restoring same-city as the sync standby of u00" in s for s in sentences)
    assert world.units.instances["u00", "production"].sync_standby == "same-city"


def test_a_sync_standby_one_observer_cannot_reach_is_not_degraded(world: World) -> None:
    world.cuts.add(frozenset(("production", "same-city")))
    for _ in range(6):
        world.cycle()
    assert all(world.units.instances[u, "production"].sync_standby for u in EVEN)
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
