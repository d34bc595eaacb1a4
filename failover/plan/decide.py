"""``decide(snapshot) -> Decision``: the order in which the rules run, per unit.

Like Patroni's HA loop, a cycle ends in one sentence that says what was decided and why
(``"failing over u00,u02 production→same-city: quorum 2/3 saw production down for 3
rounds"``). The rules (docs/controller.md tells every sentence):

1. Only the leader acts; a frozen controller reports what it would do and does nothing.
2. Per unit, in order: close or finish an in-flight promotion left by a crash; demote an
   instance that still says primary at an older epoch; then, if the unit's primary site
   is DOWN by quorum (or its primary instance alone is DEAD by quorum), fail it over —
   never while ``leases/primary/<unit>`` exists, to the copy
   :mod:`failover.plan.promotion` chooses (loss-free only when both other copies'
   positions are known; caught up first when it ranks below the best copy).
3. A primary that answers but stopped writing at its epoch — fenced, restarted, or
   still saying primary without its lease key for several cycles — is re-promoted in
   place at epoch + 1; one whose role drifted to another epoch (an operator's or a
   tool's wrong ``/admin/role``) is stepped down if it says primary, then re-promoted
   in place above both epochs when that loses nothing (:mod:`failover.plan.repair`).
   Until a rule acts, the unit is reported as having no writable primary.
4. A move that cannot be made safely is refused and the unit stays where it is.

A city-A partition leaves every site reachable by a quorum: no rule fires, nothing
moves, and no unit stops (writes are acknowledged by the remote standby meanwhile).
"""

from __future__ import annotations

from collections.abc import Mapping

from failover.actions import PromoteUnit
from failover.plan.context import Cause, Context
from failover.plan.inflight import resolve_in_flight
from failover.plan.outcomes import Decision, OutcomeKind, UnitOutcome, anomaly, summary
from failover.plan.promotion import approved, ask, automatic, candidates
from failover.plan.repair import (
    demotions,
    drift_repair,
    lease_wait,
    next_lapsed_cycles,
    repromotion,
)
from failover.quorum import SiteState, site_verdicts
from failover.snapshot import Route, Snapshot


def decide(snapshot: Snapshot) -> Decision:
    """Decide this cycle's actions from ``snapshot`` alone (see the module docstring)."""
    ctx = Context(snapshot, site_verdicts(snapshot))
    counts = next_lapsed_cycles(snapshot)
    if snapshot.leader != snapshot.controller:
        holder = snapshot.leader or "no controller"
        sentence = (
            f"standing by: {snapshot.controller} is not the leader ({holder} holds the lease)"
        )
        return Decision((), sentence, ctx.sites, (), lapsed_cycles=counts)
    outcomes = tuple(o for unit in snapshot.topology.units for o in _decide_unit(unit, ctx, counts))
    actions = tuple(a for o in outcomes for a in o.actions)
    # A unit re-promoted this cycle starts counting afresh.
    promoted = {a.unit for a in actions if isinstance(a, PromoteUnit)}
    counts = {u: n for u, n in counts.items() if u not in promoted}
    sentence = summary(outcomes, ctx.sites, snapshot.routes)
    if snapshot.frozen:
        suspended = "would be " + sentence if actions else sentence
        frozen = f"frozen: automatic actions suspended; {suspended}"
        return Decision((), frozen, ctx.sites, outcomes, actions, lapsed_cycles=counts)
    return Decision(actions, sentence, ctx.sites, outcomes, lapsed_cycles=counts)


def _decide_unit(unit: str, ctx: Context, counts: Mapping[str, int]) -> list[UnitOutcome]:
    route = ctx.snapshot.routes.get(unit)
    if route is None:
        return [anomaly(unit, " has no route; a person must restore routes/" + unit)]
    if route.site not in ctx.sites:
        return [anomaly(unit, f" routes to unknown site {route.site!r}; a person must fix it")]
    if unit in ctx.snapshot.acting:
        # Its steps may be ahead of this snapshot (route moved, instance not told yet):
        # deciding again would redo or roll back what they are doing.
        return [
            UnitOutcome(
                unit, OutcomeKind.WAITING, "waiting:", " steps of an earlier cycle still running"
            )
        ]
    outcomes, proceed = resolve_in_flight(unit, route, ctx)
    change = _failover(unit, route, ctx, counts) if proceed else None
    moving = change is not None and any(isinstance(a, PromoteUnit) for a in change.actions)
    if not moving:
        # A unit being moved is demoted next cycle, at the epoch its move committed.
        outcomes += demotions(unit, route, ctx)
    if change is not None:
        outcomes.append(change)
    return outcomes


def _failover(
    unit: str, route: Route, ctx: Context, counts: Mapping[str, int]
) -> UnitOutcome | None:
    cause = _failure_cause(unit, route, ctx)
    if cause is None:
        return repromotion(unit, route, ctx) or drift_repair(unit, route, ctx, counts)
    lease = ctx.snapshot.leases.get(unit)
    if lease is not None:
        return lease_wait(unit, lease)
    found = candidates(unit, route, ctx)
    why_not = ""
    if cause.confirmed:
        chosen = automatic(unit, route, cause, found, ctx)
        if isinstance(chosen, UnitOutcome):
            return chosen
        why_not = chosen
    granted = approved(unit, route, cause, found, ctx)
    if granted is not None:
        return granted
    return ask(unit, route, cause, found, ctx, why_not=why_not)


def _failure_cause(unit: str, route: Route, ctx: Context) -> Cause | None:
    site = ctx.sites[route.site]
    if site.down:
        return Cause(True, site.reason)
    primary = ctx.instance(unit, route.site)
    if primary.dead:
        return Cause(True, f"{primary.reason} while {route.site} is {site.state}")
    if site.state is SiteState.UNCONFIRMED:
        return Cause(False, site.reason)
    return None


__all__ = ["Decision", "OutcomeKind", "decide"]
