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
"""

from __future__ import annotations

from collections.abc import Mapping

from failover.actions import DemoteInstance, PromoteUnit
from failover.plan.context import Context
from failover.plan.outcomes import OutcomeKind, UnitOutcome, anomaly
from failover.quorum import SiteState
from failover.snapshot import InstanceState, LeaseHolder, Role, Route, Snapshot

#: Consecutive cycles a routed primary must be seen without its lease key.
LAPSED_CYCLES_NEEDED = 3


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


def lapsed_primaries(snapshot: Snapshot) -> frozenset[str]:
    """Units whose route's instance says primary at the route's epoch with no lease key,
    reached by a quorum of observers and by this controller's own site's observer."""
    found = set()
    own = snapshot.observer_reports.get(snapshot.controller)
    for unit, route in snapshot.routes.items():
        state = snapshot.instance(unit, route.site)
        if (
            unit not in snapshot.leases
            and state.reachable
            and state.role is Role.PRIMARY
            and state.epoch == route.epoch
            and own is not None
            and own.instance_failures.get((unit, route.site)) == 0
        ):
            found.add(unit)
    return frozenset(found)


def next_lapsed_cycles(snapshot: Snapshot) -> dict[str, int]:
    """``Snapshot.lapsed_cycles`` for the next cycle: this one counted in."""
    previous = snapshot.lapsed_cycles
    return {unit: previous.get(unit, 0) + 1 for unit in lapsed_primaries(snapshot)}


def lapsed_repromotion(
    unit: str, route: Route, ctx: Context, counts: Mapping[str, int]
) -> UnitOutcome | None:
    """Re-promote in place a primary seen without its lease key for enough cycles."""
    seen = counts.get(unit, 0)
    if seen < LAPSED_CYCLES_NEEDED or not ctx.instance(unit, route.site).reachable_by_quorum:
        return None
    tail = (
        f" in {route.site} at epoch {route.epoch + 1}: its primary lost its lease key "
        f"{seen} cycles ago and can no longer write"
    )
    promote = PromoteUnit.in_place(unit, route.site, route.epoch, f"re-promoting {unit}{tail}")
    return UnitOutcome(unit, OutcomeKind.REPROMOTING, "re-promoting", tail, (promote,))
