"""Planned moves (switchover, failback, manual failover): zero loss, bounded pause.

A switchover of ``unit`` to ``target`` runs under the controller's cycle lock (no cycle
interleaves) and re-checks the leader fence before every step:

1. **check**: the unit exists, is not already in ``target``, ``target`` is UP by quorum
   and its instance answers as a standby at an epoch ≤ the route's.
2. **near**: wait (briefly) until the target's lag is at most one batch, so the drain
   window stays short. The target is already one of the primary's standbys.
3. **drain**: demote the old primary to standby at the same epoch: it stops writing
   and releases its lease (writes get 503 until step 5 — the drain window).
4. **move**: wait for ``leases/primary/<unit>`` to be gone, then the same one-transaction
   route move as a failover (:meth:`Executor.promote`), with the target first caught up
   from the old primary's copy, which holds every write it ever acknowledged.
5. **verify**: the target answers ``primary`` at the new epoch.

A crash between 3 and 4 leaves the old primary standby at the route's epoch with no
lease: the next cycle re-promotes it in place (the decision's restart rule), a rollback.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from failover.actions import PromoteUnit
from failover.controller.builder import World
from failover.controller.cycle import Controller
from failover.controller.executor import Executor
from failover.controller.records import RecordStore
from failover.controller.units import AdminPort, RoleChange
from failover.dcs import Dcs, Keys
from failover.errors import InvalidRequest, UnsafeAction
from failover.quorum import SiteState
from failover.snapshot import Role, Route

CATCH_UP_SECONDS = 10.0
LEASE_GONE_SECONDS = 10.0


class PlannedMoves:
    def __init__(
        self,
        controller: Controller,
        executor: Executor,
        admin: AdminPort,
        dcs: Dcs,
        records: RecordStore,
        build: Callable[[], World],
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._controller, self._executor, self._admin = controller, executor, admin
        self._dcs, self._records, self._build, self._sleep = dcs, records, build, sleep
        self._clock = clock

    def switchover_site(self, site: str, target: str, kind: str) -> list[str]:
        """Move every unit whose primary is in ``site`` to ``target``; one sentence each."""
        world = self._build()
        topology = world.snapshot.topology
        for name, field in ((site, "site"), (target, "to")):
            if name not in topology.site_names:
                raise InvalidRequest(f"unknown site {name!r}", field=field)
        if site == target:
            raise InvalidRequest(f"{site} is already where its units are", field="to")
        units = [u for u, r in world.snapshot.routes.items() if r.site == site]
        if not units:
            raise InvalidRequest(f"no unit has its primary in {site}", field="site")
        return [self.switchover_unit(u, target, kind) for u in sorted(units)]

    def switchover_unit(self, unit: str, target: str, kind: str = "switchover") -> str:
        with self._controller.lock:
            self._executor.join()  # a failover's steps may still run; the lock keeps new ones out
            world = self._build()
            route = self._check(world, unit, target)
            self._records.record(
                f"{kind}_started", f"{kind} of {unit} {route.site}→{target}",
                unit=unit, site=target, from_site=route.site, epoch=route.epoch,
            )  # fmt: skip
            self._near(world, unit, route.site, target)
            self._executor.check_fence()
            drained = self._admin.set_role(unit, route.site, RoleChange("standby", route.epoch))
            self._wait_lease_gone(unit)
            action = PromoteUnit(
                unit=unit, from_site=route.site, to_site=target,
                expected_epoch=route.epoch, new_epoch=route.epoch + 1,
                data_losing=False, accepted_loss=0, approval_id=None,
                reason=f"{kind} of {unit} {route.site}→{target}",
                catch_up_from=route.site, catch_up_to=int(drained.get("last_lsn") or 0),
            )  # fmt: skip
            self._executor.promote(action, self._build())
            self._verify(unit, target, route.epoch + 1)
            sentence = f"{kind}: {unit} {route.site}→{target} at epoch {route.epoch + 1}"
            self._records.record(f"{kind}_done", sentence, unit=unit, site=target)
            return sentence

    def _check(self, world: World, unit: str, target: str) -> Route:
        snapshot = world.snapshot
        topology = snapshot.topology
        if unit not in topology.units:
            raise InvalidRequest(f"unknown unit {unit!r}", field="unit")
        if target not in topology.site_names:
            raise InvalidRequest(f"unknown site {target!r}", field="to")
        route = snapshot.routes.get(unit)
        if route is None:
            raise UnsafeAction(f"move {unit}", "it has no route")
        if route.site == target:
            raise InvalidRequest(f"{unit} is already primary in {target}", field="to")
        verdict = (
            self._controller.last_decision.sites.get(target)
            if self._controller.last_decision
            else None
        )
        if verdict is None or verdict.state is not SiteState.UP:
            state = verdict.state if verdict else "unknown"
            raise UnsafeAction(f"move {unit} to {target}", f"{target} is {state}, not up")
        seen = snapshot.instance(unit, target)
        # Same rule as the decision's candidates: a standby at an epoch ≤ the route's (it
        # learns a re-promoted primary's epoch only at that primary's next handshake);
        # that it holds every write is checked by the catch-up step, not by its epoch.
        if not seen.reachable or seen.role is not Role.STANDBY or (seen.epoch or 0) > route.epoch:
            raise UnsafeAction(
                f"move {unit} to {target}",
                f"its instance there is not a standby answering at epoch ≤ {route.epoch} "
                f"(role {seen.role}, epoch {seen.epoch})",
            )
        if unit not in world.primaries:
            raise UnsafeAction(f"move {unit}", f"its primary in {route.site} does not answer")
        return route

    def _near(self, world: World, unit: str, site: str, target: str) -> None:
        """Wait until ``target`` lags ``site``'s primary by at most one batch (or time
        runs out: the catch-up after the drain copies the rest, only the pause grows)."""
        batch = world.snapshot.topology.replication.batch_size
        deadline = self._clock() + CATCH_UP_SECONDS
        while self._clock() < deadline:
            view = self._admin.unit_view(unit, site) or {}
            for standby in view.get("standbys") or ():
                lag = standby.get("lag_entries")
                if standby.get("site") == target and isinstance(lag, int) and lag <= batch:
                    return
            self._sleep(0.1)

    def _wait_lease_gone(self, unit: str) -> None:
        key = Keys(self._build_topology_name()).primary_lease(unit)
        deadline = self._clock() + LEASE_GONE_SECONDS
        while self._dcs.get(key) is not None:
            if self._clock() > deadline:
                raise UnsafeAction(f"move {unit}", "the old primary still holds its lease")
            self._sleep(0.1)

    def _build_topology_name(self) -> str:
        world = self._controller.last_world
        return world.snapshot.topology.name if world else self._build().snapshot.topology.name

    def _verify(self, unit: str, target: str, epoch: int) -> None:
        view = self._admin.unit_view(unit, target) or {}
        if view.get("role") != "primary" or view.get("epoch") != epoch:
            raise UnsafeAction(f"verify {unit} in {target}", f"it answers {view.get('role')}")
