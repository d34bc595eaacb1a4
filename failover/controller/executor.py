"""Carry out the decision's actions: record first, check the fence, then act, then record.

Every step re-checks the leader lease (``fence()``) right before touching anything: a
leader that lost its lease stops at once, mid-cycle if need be (the same fence rule as
the primaries). A failed step is recorded and left for the next cycle, which re-derives
what to do from etcd (routes, leases, in-flight operations).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from functools import partial

from failover.actions import (
    Action,
    AssignPrimary,
    DemoteInstance,
    PromoteUnit,
    RequestApproval,
)
from failover.controller.builder import World
from failover.controller.metrics import ControllerMetrics
from failover.controller.records import RecordStore
from failover.controller.state import ControllerState, MoveRecord, ReplicationMark
from failover.controller.unit_steps import Ran, UnitSteps
from failover.controller.units import AdminPort, RoleChange, RoleRefused
from failover.dcs import CasFailed, DcsError, RouteStore
from failover.errors import NotLeader
from failover.snapshot import InFlightPromotion

LOG = logging.getLogger("failover.controller")


class Executor:
    def __init__(
        self,
        state: ControllerState,
        routes: RouteStore,
        admin: AdminPort,
        records: RecordStore,
        fence: Callable[[], bool],
        controller: str,
        wall_clock: Callable[[], float] = time.time,
        metrics: ControllerMetrics | None = None,
    ) -> None:
        self._state, self._routes, self._admin, self._records = state, routes, admin, records
        self._fence, self._controller, self._wall = fence, controller, wall_clock
        self._metrics = metrics or ControllerMetrics()
        self._steps = UnitSteps()

    def check_fence(self) -> None:
        if not self._fence():
            raise NotLeader(self._controller, None)

    def seed_missing_routes(self, world: World) -> list[str]:
        """Give each unit without a route its first one: its placement's primary, epoch 1.

        Only where ``routes/<unit>`` is absent (a compare-and-set on absence), so it never
        rewinds a failover; a fresh deployment (the Helm chart has no seeding step) gets
        its routes from the first leader. Returns the units seeded by this call.
        """
        snapshot = world.snapshot
        missing = [u for u in snapshot.topology.units if u not in snapshot.routes]
        if not missing:
            return []
        self.check_fence()
        seeded = self._routes.seed(snapshot.topology)
        return [u for u in missing if u in seeded]

    def run_all(
        self, actions: Sequence[Action], world: World, woken: threading.Event | None = None
    ) -> Ran:
        """Run a cycle's actions: each unit's in order, different units at once, and
        wait for them unless ``woken`` is set meanwhile (failover/controller/unit_steps.py).

        Units are independent cells, and a step can take a second or more (a primary
        letting go of a link to a dead standby waits out that link's in-flight request),
        so doing eight units one after another would add those seconds up in the RTO.
        Units whose steps of an earlier cycle still run are left out (``Ran.held``).
        Raises :class:`NotLeader` if any unit's step found the lease gone (the other
        units' steps stop at their next fence check) and :class:`DcsError` likewise.
        """
        by_unit: dict[str, list[Action]] = {}
        for action in actions:
            by_unit.setdefault(action.unit, []).append(action)
        return self._steps.run(by_unit, partial(self._run_unit, world=world), woken)

    def acting_units(self) -> frozenset[str]:
        """Units whose steps of an earlier cycle are still running."""
        return self._steps.acting()

    def join(self) -> None:
        """Wait until every unit's steps have ended (planned operations, tests)."""
        self._steps.join()

    def _run_unit(self, steps: Sequence[Action], world: World) -> list[str]:
        return [self.run(action, world) for action in steps]

    def run(self, action: Action, world: World) -> str:
        """Record, act, record the outcome; returns the outcome sentence. Never raises
        except :class:`NotLeader` (stop the whole cycle)."""
        self.check_fence()
        self._records.record(
            "action", action.reason, unit=action.unit, action=action.kind, fields=_fields(action)
        )
        try:
            outcome = self._dispatch(action, world)
            ok = True
        except (RoleRefused, DcsError, CasFailed) as exc:
            outcome, ok = f"{action.kind} {action.unit} failed: {exc}", False
            LOG.warning(outcome)
        self._records.record("outcome", outcome, unit=action.unit, action=action.kind, ok=ok)
        if ok:
            self._metrics.actions.labels(action.kind).inc()
        return outcome

    def _dispatch(self, action: Action, world: World) -> str:
        if isinstance(action, PromoteUnit):
            return self.promote(action, world)
        if isinstance(action, AssignPrimary):
            return self._assign(action, world)
        if isinstance(action, DemoteInstance):
            change = RoleChange("standby", action.epoch)
            self._admin.set_role(action.unit, action.site, change)
            return f"demoted {action.unit} in {action.site} to standby at epoch {action.epoch}"
        if isinstance(action, RequestApproval):
            return self._request(action)
        self._state.end_operation(action.operation_id)
        return f"{action.outcome} operation {action.operation_id} of {action.unit}"

    # -- promotion ------------------------------------------------------------------------

    def promote(self, action: PromoteUnit, world: World) -> str:
        """Catch the target up if asked, record the operation, move the route (one txn),
        tell the new primary."""
        unit = action.unit
        if action.catch_up_from is not None:
            self._catch_up(action)
        op = InFlightPromotion(
            operation_id=f"op-{uuid.uuid4().hex[:8]}",
            unit=unit,
            from_site=action.from_site,
            to_site=action.to_site,
            expected_epoch=action.expected_epoch,
            new_epoch=action.new_epoch,
            started_at=self._wall(),
        )
        self._records.record(
            "promoting", f"promoting {unit} in {action.to_site} at epoch {action.new_epoch}",
            unit=unit, site=action.to_site, operation_id=op.operation_id,
            from_site=action.from_site, epoch=action.new_epoch,
            data_losing=action.data_losing, accepted_loss=action.accepted_loss,
            approval_id=action.approval_id,
        )  # fmt: skip
        self.check_fence()
        self._state.start_operation(op)
        standbys = world.snapshot.topology.standbys_of(action.to_site)
        try:
            self._routes.move_route(
                unit, action.expected_epoch, action.to_site, new_epoch=action.new_epoch
            )
        except CasFailed:
            self._state.end_operation(op.operation_id)
            raise
        if action.from_site != action.to_site:
            self._metrics.failovers.labels(unit).inc()
            move = MoveRecord(self._wall(), action.from_site, action.to_site, action.new_epoch)
            self._state.add_move(unit, move, self._wall())
        if action.approval_id is not None:
            self._use_approval(action.approval_id)
        if action.acks_required == 0:
            self._mark_one_copy(unit, action.new_epoch, world)
        self.check_fence()
        role = RoleChange(
            "primary", action.new_epoch, standbys, action.to_site, action.acks_required
        )
        self._admin.set_role(unit, action.to_site, role)
        self._state.end_operation(op.operation_id)
        self._records.record(
            "promoted", f"{unit} primary in {action.to_site} at epoch {action.new_epoch}",
            unit=unit, site=action.to_site, from_site=action.from_site,
            epoch=action.new_epoch, operation_id=op.operation_id, standbys=list(standbys),
            data_losing=action.data_losing, accepted_loss=action.accepted_loss,
            approval_id=action.approval_id,
        )  # fmt: skip
        return f"promoted {unit} in {action.to_site} at epoch {action.new_epoch}"

    def _assign(self, action: AssignPrimary, world: World) -> str:
        standbys = world.snapshot.topology.standbys_of(action.site)
        self.check_fence()
        role = RoleChange("primary", action.epoch, standbys, action.site)
        self._admin.set_role(action.unit, action.site, role)
        self._state.end_operation(action.operation_id)
        self._records.record(
            "promoted", f"{action.unit} primary in {action.site} at epoch {action.epoch}",
            unit=action.unit, site=action.site, epoch=action.epoch,
            operation_id=action.operation_id, standbys=list(standbys), completed_after_crash=True,
        )  # fmt: skip
        return f"told {action.unit} in {action.site} it is primary at epoch {action.epoch}"

    def _mark_one_copy(self, unit: str, epoch: int, world: World) -> None:
        """Record in etcd, before the instance is told, that ``unit`` acknowledges on one
        site alone at ``epoch``: any later failover of it at that epoch is data-losing."""
        self.check_fence()
        acknowledged = world.acknowledged.get(unit, 0)
        self._state.put_mark(unit, ReplicationMark(epoch, acknowledged, one_copy=True))
        self._records.record(
            "one_copy",
            f"{unit} acknowledges writes on one site alone at epoch {epoch} (approved)",
            unit=unit, epoch=epoch, acknowledged_lsn=acknowledged,
        )  # fmt: skip

    def _catch_up(self, action: PromoteUnit) -> None:
        """Have the target copy what the best copy holds; refuse the promotion if it
        could not reach ``catch_up_to`` (the next cycle decides again)."""
        source = action.catch_up_from or ""
        self.check_fence()
        answer = self._admin.catch_up(action.unit, action.to_site, source, action.expected_epoch)
        last = answer.get("last_lsn")
        if not isinstance(last, int) or last < action.catch_up_to:
            raise RoleRefused(
                f"{action.unit} in {action.to_site} reached lsn {last} catching up from "
                f"{source}, short of {action.catch_up_to}; not promoted"
            )
        self._records.record(
            "caught_up",
            f"{action.unit} in {action.to_site} caught up from {source} to lsn {last} "
            f"({answer.get('fetched')} entries copied, {answer.get('discarded')} discarded)",
            unit=action.unit, site=action.to_site, source=source, last_lsn=last,
            fetched=answer.get("fetched"), discarded=answer.get("discarded"),
        )  # fmt: skip

    # -- approvals -------------------------------------------------------------------------

    def _request(self, action: RequestApproval) -> str:
        approval = self._state.new_approval(
            unit=action.unit,
            from_site=action.from_site,
            to_site=action.to_site,
            expected_epoch=action.expected_epoch,
            estimated_loss=action.estimated_loss,
            accepted_loss=0,
            reason=action.reason,
        )
        self._records.record(
            "approval_requested",
            f"approval {approval.id}: promote {action.unit} in {action.to_site} "
            f"(loss of at least {action.estimated_loss} entries)",
            unit=action.unit, site=action.to_site, approval_id=approval.id,
            estimated_loss=action.estimated_loss, expected_epoch=action.expected_epoch,
        )  # fmt: skip
        return f"requested approval {approval.id} for {action.unit}"

    def _use_approval(self, approval_id: str) -> None:
        approval = self._state.approval(approval_id)
        if approval is not None:
            self._state.set_approval_status(approval, "used")


def _fields(action: Action) -> dict[str, object]:
    names = getattr(action, "__dataclass_fields__", {})
    return {name: getattr(action, name) for name in names if name != "reason"}
