"""Promotions a crash left in flight: finish them, or close them with the reason.

A promotion's etcd transaction moves ``routes/<unit>`` atomically, so the route alone
tells whether it committed (``InFlightPromotion``). Only the newest operation of a unit
can still matter; older ones are closed as superseded, so a unit never gets two role
changes in one decision.
"""

from __future__ import annotations

from failover.actions import AssignPrimary, OperationOutcome, ResolveOperation
from failover.plan.context import Context
from failover.plan.outcomes import OutcomeKind, UnitOutcome
from failover.snapshot import InFlightPromotion, Role, Route


def resolve_in_flight(unit: str, route: Route, ctx: Context) -> tuple[list[UnitOutcome], bool]:
    """Finish or close the unit's in-flight promotions; False: no new failover this cycle.

    Only the newest one (by ``started_at``) can still matter; older ones are closed as
    superseded, so a unit never gets two role changes in one decision."""
    ops = sorted((op for op in ctx.snapshot.in_flight if op.unit == unit), key=_started)
    if not ops:
        return [], True
    older = [
        _resolved(op, OperationOutcome.SUPERSEDED, "closing promotion of", _superseded(op))
        for op in ops[:-1]
    ]
    newest, proceed = _resolve_one(ops[-1], route, ctx)
    return [*older, newest], proceed


def _started(op: InFlightPromotion) -> tuple[float, str]:
    return (op.started_at, op.operation_id)


def _superseded(op: InFlightPromotion) -> str:
    return f" to {op.to_site} epoch {op.new_epoch}: a newer operation replaced it"


def _resolve_one(op: InFlightPromotion, route: Route, ctx: Context) -> tuple[UnitOutcome, bool]:
    what = f" to {op.to_site} epoch {op.new_epoch}"
    if route == Route(op.from_site, op.expected_epoch):
        why = f"{what}: route still at {op.from_site} epoch {op.expected_epoch}, never moved"
        return _resolved(op, OperationOutcome.ROLLED_BACK, "rolling back promotion of", why), True
    if route != Route(op.to_site, op.new_epoch):
        why = f"{what}: route is now {route.site} epoch {route.epoch}"
        return _resolved(op, OperationOutcome.SUPERSEDED, "closing promotion of", why), True
    state = ctx.snapshot.instance(op.unit, op.to_site)
    if state.reachable and state.role is Role.PRIMARY and state.epoch == op.new_epoch:
        why = f"{what}: the new primary confirms"
        return _resolved(op, OperationOutcome.COMPLETED, "completed promotion of", why), True
    if state.reachable:
        why = f"{what}: route moved, telling the new primary"
        assign = AssignPrimary(op.unit, op.to_site, op.new_epoch, op.operation_id, why.lstrip())
        return UnitOutcome(
            op.unit, OutcomeKind.RESOLVING, "completing promotion of", why, (assign,)
        ), False
    if ctx.instance(op.unit, op.to_site).dead:
        why = f"{what}: route moved but the new primary died before it was told"
        return _resolved(op, OperationOutcome.ABANDONED, "abandoning promotion of", why), True
    why = (
        f" promotion to {op.to_site} epoch {op.new_epoch} committed; new primary not answering yet"
    )
    return UnitOutcome(op.unit, OutcomeKind.WAITING, "waiting:", why), False


def _resolved(
    op: InFlightPromotion, outcome: OperationOutcome, lead: str, tail: str
) -> UnitOutcome:
    action = ResolveOperation(op.operation_id, op.unit, outcome, f"{lead} {op.unit}{tail}")
    return UnitOutcome(op.unit, OutcomeKind.RESOLVING, lead, tail, (action,))
