"""The failover decision: ``decide(snapshot) -> Decision``. Pure: no I/O, no clock.

Like Patroni's HA loop, a cycle ends in one sentence that says what was decided and why
(``"failing over u00,u02 production→same-city: quorum 2/3 saw production down for 3
rounds"``). The rules (DESIGN §3; the full story with every sentence is in
``docs/controller.md``):

1. Only the leader acts; a frozen controller reports what it would do and does nothing.
2. Per unit, in order: close or finish an in-flight promotion left by a crash; demote an
   instance that still says primary at an older epoch; then, if the unit's primary site is
   DOWN by quorum (or its primary instance alone is DEAD by quorum), fail it over:
   - never while ``leases/primary/<unit>`` exists (wait: the old primary may still write);
   - to the best fit standby: site UP, instance reached by a quorum, role standby.
     Best = least loss, the synchronous (same-city) standby first on ties;
   - loss-free only for the synchronous standby when *caught up*: replication not
     degraded and its applied LSN ≥ the highest LSN ever seen acknowledged by the primary
     (which acknowledges only after its synchronous standby applied). Anything else is
     data-losing, with loss ≥ acknowledged − applied;
   - automatically only if the policy allows it (remote-dr: ``remote_dr_auto_promotion``;
     data-losing in city A: ``allow_data_losing_failover``) and the unit is under its
     hourly failover limit; otherwise with a granted approval that names at least the
     loss, or else by requesting one (or waiting for the pending one).
   A site that only one observer can still see (``UNCONFIRMED``) is never failed over
   automatically; a person may approve it.
3. A primary that answers but stopped writing at its epoch (fenced after its lease
   lapsed, or restarted) is re-promoted in place at epoch + 1 once its lease key is gone.
4. A move that cannot be made safely is refused and the unit stays where it is.

Planned operations (switchover, failback) will enter as requests in the snapshot and be
decided in :func:`_decide_unit` after failovers, for units without a failover outcome.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from failover.actions import (
    Action,
    AssignPrimary,
    DemoteInstance,
    OperationOutcome,
    PromoteUnit,
    RequestApproval,
    ResolveOperation,
)
from failover.quorum import (
    InstanceVerdict,
    SiteState,
    SiteVerdict,
    instance_verdict,
    site_verdicts,
)
from failover.snapshot import (
    Approval,
    InFlightPromotion,
    InstanceState,
    LeaseHolder,
    Role,
    Route,
    Snapshot,
    UnitReplication,
)
from failover.topology import SiteRole, Topology

RATE_WINDOW_SECONDS = 3600.0


class OutcomeKind(StrEnum):
    """What happens to a unit this cycle; also the order of phrases in the summary."""

    RESOLVING = "resolving"
    FAILING_OVER = "failing_over"
    REPROMOTING = "repromoting"
    DEMOTING = "demoting"
    REQUESTING_APPROVAL = "requesting_approval"
    AWAITING_APPROVAL = "awaiting_approval"
    WAITING = "waiting"
    REFUSED = "refused"
    ANOMALY = "anomaly"


_KIND_ORDER = {kind: index for index, kind in enumerate(OutcomeKind)}


@dataclass(frozen=True, slots=True)
class UnitOutcome:
    """One thing decided about one unit. Its phrase is ``f"{lead} {unit}{tail}"``; units
    with the same kind, lead and tail share one phrase in the summary."""

    unit: str
    kind: OutcomeKind
    lead: str
    tail: str
    actions: tuple[Action, ...] = ()

    @property
    def phrase(self) -> str:
        return f"{self.lead} {self.unit}{self.tail}"


@dataclass(frozen=True)
class Decision:
    """What to do this cycle and why.

    ``actions`` are to be carried out in order. ``suspended`` holds what would have been
    done if the controller were not frozen (empty otherwise). ``summary`` is one sentence
    for logs, events and ``watertight status``.
    """

    actions: tuple[Action, ...]
    summary: str
    sites: Mapping[str, SiteVerdict]
    outcomes: tuple[UnitOutcome, ...]
    suspended: tuple[Action, ...] = ()


def decide(snapshot: Snapshot) -> Decision:
    """Decide this cycle's actions from ``snapshot`` alone (see the module docstring)."""
    ctx = _Context(snapshot, site_verdicts(snapshot))
    if snapshot.leader != snapshot.controller:
        holder = snapshot.leader or "no controller"
        summary = f"standing by: {snapshot.controller} is not the leader ({holder} holds the lease)"
        return Decision((), summary, ctx.sites, ())
    outcomes = tuple(o for unit in snapshot.topology.units for o in _decide_unit(unit, ctx))
    actions = tuple(a for o in outcomes for a in o.actions)
    summary = _summary(outcomes, ctx)
    if snapshot.frozen:
        suspended = "would be " + summary if actions else summary
        frozen_summary = f"frozen: automatic actions suspended; {suspended}"
        return Decision((), frozen_summary, ctx.sites, outcomes, suspended=actions)
    return Decision(actions, summary, ctx.sites, outcomes)


@dataclass(frozen=True)
class _Context:
    snapshot: Snapshot
    sites: Mapping[str, SiteVerdict]

    @property
    def topology(self) -> Topology:
        return self.snapshot.topology

    def instance(self, unit: str, site: str) -> InstanceVerdict:
        s = self.snapshot
        return instance_verdict(unit, site, s.observer_reports, s.now, s.topology)


@dataclass(frozen=True, slots=True)
class _Cause:
    """Why a unit needs a failover. ``confirmed``: by a quorum, so the policy may act."""

    confirmed: bool
    text: str


@dataclass(frozen=True, slots=True)
class _Candidate:
    """A standby considered for promotion. ``unfit``: why no promotion may use it;
    ``unfit_for_policy``: why an automatic one may not (a person may still approve)."""

    site: str
    rank: int
    dr: bool
    behind: str | None
    loss: int
    unfit: str | None
    unfit_for_policy: str | None

    @property
    def caught_up(self) -> bool:
        return self.behind is None

    @property
    def data_losing(self) -> bool:
        return not self.caught_up

    @property
    def preference(self) -> tuple[int, bool, int]:
        return (self.loss, not self.caught_up, self.rank)


def _decide_unit(unit: str, ctx: _Context) -> list[UnitOutcome]:
    route = ctx.snapshot.routes.get(unit)
    if route is None:
        return [_anomaly(unit, " has no route; a person must restore routes/" + unit)]
    if route.site not in ctx.sites:
        return [_anomaly(unit, f" routes to unknown site {route.site!r}; a person must fix it")]
    outcomes, proceed = _resolve_in_flight(unit, route, ctx)
    failover = _failover(unit, route, ctx) if proceed else None
    moving = failover is not None and any(isinstance(a, PromoteUnit) for a in failover.actions)
    if not moving:
        # A unit being moved is demoted next cycle, at the epoch its move committed.
        outcomes += _demotions(unit, route, ctx)
    if failover is not None:
        outcomes.append(failover)
    return outcomes


def _anomaly(unit: str, tail: str) -> UnitOutcome:
    return UnitOutcome(unit, OutcomeKind.ANOMALY, "anomaly:", tail)


# --- in-flight promotions left by a crash -------------------------------------------------


def _resolve_in_flight(unit: str, route: Route, ctx: _Context) -> tuple[list[UnitOutcome], bool]:
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


def _resolve_one(op: InFlightPromotion, route: Route, ctx: _Context) -> tuple[UnitOutcome, bool]:
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


# --- stale primaries -----------------------------------------------------------------------


def _demotions(unit: str, route: Route, ctx: _Context) -> list[UnitOutcome]:
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
            outcomes.append(_anomaly(unit, tail))
            continue
        tail = (
            f" in {site}: stale primary (epoch {state.epoch}), "
            f"route is {route.site} epoch {route.epoch}"
        )
        demote = DemoteInstance(unit, site, route.epoch, f"demoting {unit}{tail}")
        outcomes.append(UnitOutcome(unit, OutcomeKind.DEMOTING, "demoting", tail, (demote,)))
    return outcomes


# --- failover ------------------------------------------------------------------------------


def _failover(unit: str, route: Route, ctx: _Context) -> UnitOutcome | None:
    cause = _failure_cause(unit, route, ctx)
    if cause is None:
        return _repromotion(unit, route, ctx)
    lease = ctx.snapshot.leases.get(unit)
    if lease is not None:
        return _lease_wait(unit, lease)
    candidates = _candidates(unit, route, ctx)
    why_not = ""
    if cause.confirmed:
        automatic = _automatic(unit, route, cause, candidates, ctx)
        if isinstance(automatic, UnitOutcome):
            return automatic
        why_not = automatic
    approved = _approved(unit, route, cause, candidates, ctx)
    if approved is not None:
        return approved
    return _ask(unit, route, cause, candidates, ctx, why_not=why_not)


def _lease_wait(unit: str, lease: LeaseHolder) -> UnitOutcome:
    tail = f" lease key still held by {lease.site} (epoch {lease.epoch})"
    return UnitOutcome(unit, OutcomeKind.WAITING, "waiting:", tail)


def _repromotion(unit: str, route: Route, ctx: _Context) -> UnitOutcome | None:
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
        return _lease_wait(unit, lease)
    lost = "fenced itself after its lease lapsed" if state.role is Role.FENCED else "restarted"
    unfit = _unfit_in_place(unit, route, state, ctx)
    if unfit is not None:
        tail = f" in {route.site}: its primary {lost}, but {unfit}; a person must look"
        return UnitOutcome(unit, OutcomeKind.REFUSED, "cannot re-promote", tail)
    tail = f" in {route.site} at epoch {route.epoch + 1}: its primary {lost}"
    promote = PromoteUnit.in_place(unit, route.site, route.epoch, f"re-promoting {unit}{tail}")
    return UnitOutcome(unit, OutcomeKind.REPROMOTING, "re-promoting", tail, (promote,))


def _unfit_in_place(unit: str, route: Route, state: InstanceState, ctx: _Context) -> str | None:
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


def _failure_cause(unit: str, route: Route, ctx: _Context) -> _Cause | None:
    site = ctx.sites[route.site]
    if site.down:
        return _Cause(True, site.reason)
    primary = ctx.instance(unit, route.site)
    if primary.dead:
        return _Cause(True, f"{primary.reason} while {route.site} is {site.state}")
    if site.state is SiteState.UNCONFIRMED:
        return _Cause(False, site.reason)
    return None


def _candidates(unit: str, route: Route, ctx: _Context) -> list[_Candidate]:
    """Every other site, the synchronous (same-city) standby first."""
    topology = ctx.topology
    others = [s for s in topology.site_names if s != route.site]
    ordered = sorted(others, key=lambda s: not topology.same_city(s, route.site))
    return [_candidate(unit, route, site, rank, ctx) for rank, site in enumerate(ordered)]


def _candidate(unit: str, route: Route, site: str, rank: int, ctx: _Context) -> _Candidate:
    snapshot, topology = ctx.snapshot, ctx.topology
    unfit = _unfit(unit, route, site, ctx, by_quorum=False)
    replication = snapshot.replication.get(unit)
    acknowledged = replication.acknowledged_lsn if replication is not None else 0
    applied = snapshot.instance(unit, site).applied_lsn or 0
    behind = _behind(topology.same_city(site, route.site), replication, applied, unfit)
    return _Candidate(
        site=site,
        rank=rank,
        dr=topology.site(site).role is SiteRole.DR,
        behind=behind,
        loss=0 if behind is None else max(0, acknowledged - applied),
        unfit=unfit,
        unfit_for_policy=unfit or _unfit(unit, route, site, ctx, by_quorum=True),
    )


def _behind(
    synchronous: bool, replication: UnitReplication | None, applied: int, unfit: str | None
) -> str | None:
    """Why promoting this standby may lose acknowledged writes; ``None``: caught up.

    Caught up = the synchronous (same-city) standby, replication never seen degraded, and
    applied LSN ≥ the highest LSN ever seen acknowledged. The primary acknowledges only
    after its synchronous standby applied, so such a standby holds every acknowledged write.
    """
    if unfit is not None:
        return unfit
    if not synchronous:
        return "an asynchronous standby"
    if replication is None:
        return "the acknowledged position is unknown"
    if replication.sync_degraded:
        return "synchronous replication was degraded"
    if applied < replication.acknowledged_lsn:
        return f"{replication.acknowledged_lsn - applied} entries behind"
    return None


def _unfit(unit: str, route: Route, site: str, ctx: _Context, *, by_quorum: bool) -> str | None:
    """Why ``site`` cannot take ``unit``; ``by_quorum``: the stricter automatic check."""
    verdict = ctx.sites[site]
    allowed = {SiteState.UP} if by_quorum else {SiteState.UP, SiteState.UNKNOWN}
    if verdict.state not in allowed:
        return f"{site} is {verdict.state}"
    seen = ctx.instance(unit, site)
    if not (seen.reachable_by_quorum or (not by_quorum and seen.reached_by_every_voter)):
        return f"its instance is reached by {len(seen.reached)}/{seen.observers} observers"
    return _unfit_instance(ctx.snapshot.instance(unit, site), route)


def _unfit_instance(state: InstanceState, route: Route) -> str | None:
    """Why the instance, as it reports itself, cannot become the primary."""
    if not state.reachable:
        return "its instance does not answer"
    if state.role is not Role.STANDBY:
        return f"its instance is {state.role or 'of unknown role'}, not a standby"
    if state.epoch is None or state.epoch > route.epoch:
        return f"its instance is at epoch {state.epoch}, the route at {route.epoch}"
    if state.applied_lsn is None:
        return "its journal position is unknown"
    return None


def _automatic(
    unit: str, route: Route, cause: _Cause, candidates: list[_Candidate], ctx: _Context
) -> UnitOutcome | str:
    """The promotion the policy allows on its own, or why there is none."""
    fit = sorted((c for c in candidates if c.unfit_for_policy is None), key=lambda c: c.preference)
    if not fit:
        problems = "; ".join(f"{c.site}: {c.unfit_for_policy}" for c in candidates)
        return f"no standby fit for an automatic promotion ({problems})"
    allowed = [c for c in fit if _policy_forbids(c, ctx) is None]
    if not allowed:
        return _policy_forbids(fit[0], ctx) or ""
    limited = _rate_limited(unit, ctx)
    if limited is not None:
        return limited
    return _promote(unit, route, allowed[0], None, cause)


def _policy_forbids(candidate: _Candidate, ctx: _Context) -> str | None:
    policy, replication = ctx.topology.policy, ctx.topology.replication
    if candidate.dr and not policy.remote_dr_auto_promotion:
        return f"{candidate.site} is never promoted automatically under this policy"
    lossy_in_city = candidate.behind is not None and not candidate.dr
    if lossy_in_city and not replication.allow_data_losing_failover:
        return (
            f"{candidate.site} is not caught up ({candidate.behind}) and the policy "
            "forbids data-losing failover"
        )
    return None


def _rate_limited(unit: str, ctx: _Context) -> str | None:
    now, limit = ctx.snapshot.now, ctx.topology.policy.max_failovers_per_unit_per_hour
    recent = sum(
        1
        for f in ctx.snapshot.failovers
        if f.unit == unit and f.from_site != f.to_site and now - f.at < RATE_WINDOW_SECONDS
    )
    if recent < limit:
        return None
    return f"{unit} is rate-limited: {recent} failovers in the last hour (limit {limit})"


def _approved(
    unit: str, route: Route, cause: _Cause, candidates: list[_Candidate], ctx: _Context
) -> UnitOutcome | None:
    """A promotion a person approved for a fit standby at this epoch, covering its loss."""
    for candidate in sorted(candidates, key=lambda c: c.preference):
        if candidate.unfit is not None:
            continue
        for approval in ctx.snapshot.approvals:
            if (
                approval.granted
                and _matches(approval, unit, candidate.site, route)
                and approval.accepted_loss >= candidate.loss
            ):
                return _promote(unit, route, candidate, approval, cause)
    return None


def _matches(approval: Approval, unit: str, site: str, route: Route) -> bool:
    return (approval.unit, approval.to_site, approval.expected_epoch) == (unit, site, route.epoch)


def _ask(
    unit: str,
    route: Route,
    cause: _Cause,
    candidates: list[_Candidate],
    ctx: _Context,
    *,
    why_not: str,
) -> UnitOutcome:
    """Wait for a person: the pending approval for the best fit standby, or a new request.

    ``why_not``: why the policy did not act on a confirmed cause (empty: unconfirmed)."""
    fit = sorted((c for c in candidates if c.unfit is None), key=lambda c: c.preference)
    if not fit:
        problems = "; ".join(f"{c.site}: {c.unfit}" for c in candidates)
        tail = f": {cause.text}; no standby fit to promote ({problems})"
        return UnitOutcome(unit, OutcomeKind.REFUSED, "cannot fail over", tail)
    best = fit[0]
    for approval in ctx.snapshot.approvals:
        if not approval.granted and _matches(approval, unit, best.site, route):
            lead = f"awaiting approval {approval.id} to promote"
            tail = f" in {best.site} (accepting loss of {approval.accepted_loss} entries)"
            return UnitOutcome(unit, OutcomeKind.AWAITING_APPROVAL, lead, tail)
    but = f", but {why_not}" if why_not else ""
    tail = f" in {best.site} (loss of at least {best.loss} entries): {cause.text}{but}"
    lead = "requesting approval to promote"
    request = RequestApproval(
        unit,
        route.site,
        best.site,
        route.epoch,
        best.loss,
        best.data_losing,
        f"{lead} {unit}{tail}",
    )
    return UnitOutcome(unit, OutcomeKind.REQUESTING_APPROVAL, lead, tail, (request,))


def _promote(
    unit: str, route: Route, target: _Candidate, approval: Approval | None, cause: _Cause
) -> UnitOutcome:
    loss = target.loss if target.data_losing else 0
    if approval is not None:
        terms = f" with approval {approval.id} accepting loss of {approval.accepted_loss} entries"
    elif target.data_losing:
        terms = f" accepting loss of at least {loss} entries (the policy allows it)"
    else:
        terms = ""
    tail = f" {route.site}→{target.site}{terms}: {cause.text}"
    promote = PromoteUnit(
        unit=unit,
        from_site=route.site,
        to_site=target.site,
        expected_epoch=route.epoch,
        new_epoch=route.epoch + 1,
        data_losing=target.data_losing,
        accepted_loss=loss,
        approval_id=approval.id if approval is not None else None,
        reason=f"failing over {unit}{tail}",
    )
    return UnitOutcome(unit, OutcomeKind.FAILING_OVER, "failing over", tail, (promote,))


# --- the sentence --------------------------------------------------------------------------


def _summary(outcomes: tuple[UnitOutcome, ...], ctx: _Context) -> str:
    """One sentence: outcomes grouped by phrase (units comma-joined), or the steady state."""
    if not outcomes:
        return _steady(ctx)
    groups: dict[tuple[OutcomeKind, str, str], list[str]] = {}
    for o in outcomes:
        units = groups.setdefault((o.kind, o.lead, o.tail), [])
        if o.unit not in units:
            units.append(o.unit)
    ordered = sorted(groups.items(), key=lambda item: _KIND_ORDER[item[0][0]])
    return "; ".join(f"{lead} {','.join(units)}{tail}" for (_, lead, tail), units in ordered)


def _steady(ctx: _Context) -> str:
    healthy = sum(1 for v in ctx.sites.values() if v.state is SiteState.UP)
    sentence = f"no action: {healthy}/{len(ctx.sites)} sites healthy"
    primaries = {route.site for route in ctx.snapshot.routes.values()}
    notes = [
        f"{v.site} down and holds no primaries: {v.reason}"
        if v.down and v.site not in primaries
        else v.reason
        for v in ctx.sites.values()
        if v.state is not SiteState.UP
    ]
    return f"{sentence} ({'; '.join(notes)})" if notes else sentence
