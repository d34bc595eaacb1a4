"""Repairs that move nothing: stale primaries, and a primary that stopped writing.

- A reachable instance outside the route's site that still says ``primary`` at an older
  epoch is demoted to the route's epoch (one ahead of its route is an anomaly).
- The route's instance answers but stopped writing at the route's epoch — it fenced
  itself after its lease lapsed, or restarted as a standby: re-promote it in place at
  epoch + 1 once its lease key is gone. It wrote every entry of that epoch itself, so
  nothing is lost and nothing moves; it is not a failover and not rate-limited.
- The route's instance still *says* primary at the route's epoch but its lease key is
  gone (it fences itself lazily, on its next write): after ``LAPSED_CYCLES_NEEDED``
  consecutive cycles seeing that, the same re-promotion in place. One cycle can race a
  promotion, and a dead site's last observer report stays fresh for two cycles, so the
  count is remembered across cycles (``Snapshot.lapsed_cycles``).
- The route's instance stands at *another* epoch than its route's (a wrong
  ``/admin/role``): after the same count (a longer one when it is behind its route,
  which right after a move is only the observers' view lagging), a primary is stepped
  down at its own epoch, and a standby or fenced instance is re-promoted in place above
  both epochs when that loses nothing. Until a rule acts, the unit is named as having no
  writable primary, so no summary calls it healthy.
"""

from __future__ import annotations

from collections.abc import Mapping

from failover.actions import DemoteInstance, PromoteUnit
from failover.plan.context import Context
from failover.plan.outcomes import OutcomeKind, UnitOutcome, anomaly
from failover.quorum import SiteState
from failover.snapshot import InstanceState, LeaseHolder, Role, Route, Snapshot

#: Consecutive cycles a routed instance must be seen drifted before it is repaired.
LAPSED_CYCLES_NEEDED = 3
#: The same, for an instance seen at an *older* epoch than its route's. Right after a
#: promotion the observers' view of the new primary lags its route by a round or two, so
#: a genuine drift behind the route (a restored database) must persist much longer.
BEHIND_CYCLES_NEEDED = 10


def demotions(unit: str, route: Route, ctx: Context) -> list[UnitOutcome]:
    """Instances outside the route's site that still say primary: demote, or flag if ahead."""
    outcomes: list[UnitOutcome] = []
    for site in ctx.topology.site_names:
        state = ctx.snapshot.instance(unit, site)
        if site == route.site or not state.reachable or state.role is not Role.PRIMARY:
            continue
        if state.epoch is not None and state.epoch > route.epoch:
            tail = (
                f" in {site} says primary at epoch {state.epoch}, ahead of its route "
                f"({route.site} epoch {route.epoch}); a person must look"
            )
            outcomes.append(anomaly(unit, tail))
            continue
        tail = (
            f" in {site}: stale primary (epoch {state.epoch}), "
            f"route is {route.site} epoch {route.epoch}"
        )
        demote = DemoteInstance(unit, site, route.epoch, f"demoting {unit}{tail}")
        outcomes.append(UnitOutcome(unit, OutcomeKind.DEMOTING, "demoting", tail, (demote,)))
    return outcomes


def lease_wait(unit: str, lease: LeaseHolder) -> UnitOutcome:
    tail = f" lease key still held by {lease.site} (epoch {lease.epoch})"
    return UnitOutcome(unit, OutcomeKind.WAITING, "waiting:", tail)


def repromotion(unit: str, route: Route, ctx: Context) -> UnitOutcome | None:
    """Re-promote in place a primary that answers but stopped writing at the route's epoch.

    It fenced itself after its lease lapsed (an etcd blip longer than TTL − margin), or
    it restarted as a standby. It wrote every acknowledged entry of this epoch itself,
    so epoch + 1 at the same site loses nothing and moves nothing; it is not a failover
    and not rate-limited. Without this, the unit would have no writer until a person
    acted."""
    state = ctx.snapshot.instance(unit, route.site)
    if not state.reachable or state.role in (None, Role.PRIMARY) or state.epoch != route.epoch:
        return None
    lease = ctx.snapshot.leases.get(unit)
    if lease is not None:
        return lease_wait(unit, lease)
    lost = "fenced itself after its lease lapsed" if state.role is Role.FENCED else "restarted"
    unfit = _unfit_in_place(unit, route, state, ctx)
    if unfit is not None:
        tail = f" in {route.site}: its primary {lost}, but {unfit}; a person must look"
        return UnitOutcome(unit, OutcomeKind.REFUSED, "cannot re-promote", tail)
    tail = f" in {route.site} at epoch {route.epoch + 1}: its primary {lost}"
    promote = PromoteUnit.in_place(unit, route.site, route.epoch, f"re-promoting {unit}{tail}")
    return UnitOutcome(unit, OutcomeKind.REPROMOTING, "re-promoting", tail, (promote,))


def _unfit_in_place(unit: str, route: Route, state: InstanceState, ctx: Context) -> str | None:
    verdict = ctx.sites[route.site]
    if verdict.state not in {SiteState.UP, SiteState.SUSPECT}:
        return f"{route.site} is {verdict.state}"
    if not ctx.instance(unit, route.site).reachable_by_quorum:
        return "its instance is not reached by a quorum of observers"
    replication = ctx.snapshot.replication.get(unit)
    if replication is None or state.applied_lsn is None:
        return "its journal position or the acknowledged position is unknown"
    if state.applied_lsn < replication.acknowledged_lsn:
        return f"it is {replication.acknowledged_lsn - state.applied_lsn} entries behind"
    return None


def drifted_units(snapshot: Snapshot) -> frozenset[str]:
    """Units whose routed instance answers but cannot write at the route's epoch and that
    no immediate rule repairs: it says primary at the route's epoch with no lease key, or
    it stands at another epoch than its route's (any role). Only instances reached by a
    quorum's worth of evidence count: this controller's own site's observer reached it in
    its latest round. A unit with a promotion in flight is never counted: that promotion's
    own rules finish it."""
    found = set()
    own = snapshot.observer_reports.get(snapshot.controller)
    busy = {op.unit for op in snapshot.in_flight}
    for unit, route in snapshot.routes.items():
        state = snapshot.instance(unit, route.site)
        if (
            unit in busy
            or not state.reachable
            or state.role is None
            or own is None
            or own.instance_failures.get((unit, route.site)) != 0
        ):
            continue
        lapsed = unit not in snapshot.leases and state.role is Role.PRIMARY
        if state.epoch != route.epoch or lapsed:
            found.add(unit)
    return frozenset(found)


def next_lapsed_cycles(snapshot: Snapshot) -> dict[str, int]:
    """``Snapshot.lapsed_cycles`` for the next cycle: this one counted in."""
    previous = snapshot.lapsed_cycles
    return {unit: previous.get(unit, 0) + 1 for unit in drifted_units(snapshot)}


def drift_repair(
    unit: str, route: Route, ctx: Context, counts: Mapping[str, int]
) -> UnitOutcome | None:
    """Repair a routed instance seen drifted (:func:`drifted_units`) for enough cycles.

    - Primary at the route's epoch without its lease key: re-promote in place.
    - Primary at another epoch: step it down at its own epoch (which it accepts; it
      releases its lease key), so the next cycles can re-promote it at a new epoch.
    - Standby or fenced at another epoch: re-promote in place at an epoch above both its
      own and the route's, when that loses nothing; else refuse and say why.
    """
    state = ctx.snapshot.instance(unit, route.site)
    seen = counts.get(unit, 0)
    needed = LAPSED_CYCLES_NEEDED
    if state.epoch is not None and state.epoch < route.epoch:
        needed = BEHIND_CYCLES_NEEDED
    if seen < needed or not ctx.instance(unit, route.site).reachable_by_quorum:
        return _unwritable(unit, route, state, ctx)
    if state.role is Role.PRIMARY and state.epoch == route.epoch:
        tail = (
            f" in {route.site} at epoch {route.epoch + 1}: its primary lost its lease key "
            f"{seen} cycles ago and can no longer write"
        )
        promote = PromoteUnit.in_place(unit, route.site, route.epoch, f"re-promoting {unit}{tail}")
        return UnitOutcome(unit, OutcomeKind.REPROMOTING, "re-promoting", tail, (promote,))
    drift = f"says {state.role} at epoch {state.epoch} while its route is at epoch {route.epoch}"
    if state.role is Role.PRIMARY and state.epoch is not None:
        tail = f" in {route.site} at epoch {state.epoch}: it {drift}; re-promoting it next"
        demote = DemoteInstance(unit, route.site, state.epoch, f"stepping down {unit}{tail}")
        return UnitOutcome(unit, OutcomeKind.DEMOTING, "stepping down", tail, (demote,))
    lease = ctx.snapshot.leases.get(unit)
    if lease is not None:
        return lease_wait(unit, lease)
    unfit = _unfit_in_place(unit, route, state, ctx)
    if unfit is not None:
        tail = f" in {route.site}: it {drift}, but {unfit}; a person must look"
        return UnitOutcome(unit, OutcomeKind.REFUSED, "cannot re-promote", tail)
    new_epoch = max(route.epoch, state.epoch or 0) + 1
    tail = f" in {route.site} at epoch {new_epoch}: it {drift}"
    promote = PromoteUnit.in_place(
        unit, route.site, route.epoch, f"re-promoting {unit}{tail}", new_epoch=new_epoch
    )
    return UnitOutcome(unit, OutcomeKind.REPROMOTING, "re-promoting", tail, (promote,))


def _unwritable(unit: str, route: Route, state: InstanceState, ctx: Context) -> UnitOutcome | None:
    """Say so while a unit has no writable primary and no rule acts yet, so that no
    summary calls the system healthy meanwhile."""
    if not state.reachable:
        why = "its instance does not answer"
    elif state.role is not Role.PRIMARY or state.epoch != route.epoch:
        why = f"its instance says {state.role} at epoch {state.epoch}, its route {route.epoch}"
    elif unit not in ctx.snapshot.leases:
        why = "its instance says primary but holds no lease key"
    else:
        return None
    tail = f" has no writable primary in {route.site} yet: {why}"
    return UnitOutcome(unit, OutcomeKind.WAITING, "waiting:", tail)
