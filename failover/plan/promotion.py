"""Which copy of a unit may become its primary, and when (docs/controller.md §3).

The commit rule puts every acknowledged write on the primary and on at least one of its
two standbys (docs/design.md §2). Once the primary is gone, the two standbys' copies
together hold every acknowledged write, and the copy that ranks highest by
``(last entry epoch, last lsn)`` holds all of them: only one primary writes at an
epoch, a standby's journal is a prefix of the primary's it follows, and every earlier
promotion kept every acknowledged entry (the same argument as Raft's up-to-date rule).

So a failover is **loss-free** exactly when the positions of *both* other copies are
known (their instances answer): the new primary is the chosen city-A standby, first
caught up from the highest-ranked copy if it ranks below it. A copy whose position
cannot be learned (its site lost too, or its instance silent) may hold acknowledged
writes nobody else has: any promotion is then **data-losing**, with a loss of at least
``acknowledged − candidate``; it needs the policy's leave or a person's approval naming
the loss. remote-dr is never promoted automatically unless the policy says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from failover.actions import PromoteUnit, RequestApproval
from failover.plan.context import Cause, Context
from failover.plan.outcomes import OutcomeKind, UnitOutcome
from failover.quorum import SiteState
from failover.snapshot import Approval, InstanceState, Role, Route
from failover.topology import SiteRole

RATE_WINDOW_SECONDS = 3600.0

Position = tuple[int, int]


@dataclass(frozen=True, slots=True)
class Candidate:
    """A standby considered for promotion.

    ``unfit``: why no promotion may use it; ``unfit_for_policy``: why an automatic one
    may not (a person may still approve). ``catch_up_from``: the site of the copy it must
    first copy from (``catch_up_to``: that copy's last lsn). ``loss``: acknowledged
    entries a promotion may lose (0 when loss-free)."""

    site: str
    rank: int
    dr: bool
    unfit: str | None
    unfit_for_policy: str | None
    data_losing: bool
    why_losing: str | None
    loss: int
    catch_up_from: str | None = None
    catch_up_to: int = 0
    alone: bool = False
    """No other copy answers to hold a second copy (its site lost, or its instance
    silent): promoted by approval, it acknowledges on its own site alone
    (``acks_required=0``); else every write would wait for a copy that is not there."""

    @property
    def preference(self) -> tuple[bool, bool, bool, int]:
        """Loss-free first, then city A, then no catch-up needed, then the nearer."""
        return (self.data_losing, self.dr, self.catch_up_from is not None, self.rank)


@dataclass(frozen=True, slots=True)
class Copies:
    """The other copies' positions as the snapshot shows them (None: unknown)."""

    positions: dict[str, Position | None]

    @property
    def complete(self) -> bool:
        return all(p is not None for p in self.positions.values())

    def best(self) -> tuple[str, Position] | None:
        known = [(p, s) for s, p in self.positions.items() if p is not None]
        if not known:
            return None
        position, site = max(known)
        return site, position

    def unknown(self) -> list[str]:
        return [s for s, p in self.positions.items() if p is None]


def copies(unit: str, route: Route, ctx: Context) -> Copies:
    """Every other site's copy of ``unit`` and its position, the nearer first."""
    others = ctx.topology.standbys_of(route.site)
    return Copies({s: ctx.snapshot.instance(unit, s).position for s in others})


def candidates(unit: str, route: Route, ctx: Context) -> list[Candidate]:
    """Every other site as a candidate, with its catch-up source and its loss."""
    found = copies(unit, route, ctx)
    others = list(found.positions)
    return [_candidate(unit, route, s, rank, found, ctx) for rank, s in enumerate(others)]


def _candidate(
    unit: str, route: Route, site: str, rank: int, found: Copies, ctx: Context
) -> Candidate:
    unfit = _unfit(unit, route, site, ctx, by_quorum=False)
    own = found.positions[site]
    replication = ctx.snapshot.replication.get(unit)
    acknowledged = replication.acknowledged_lsn if replication is not None else 0
    best = found.best()
    catch_up_from, catch_up_to = None, 0
    if best is not None and own is not None and own < best[1]:
        catch_up_from, catch_up_to = best[0], best[1][1]
    reachable_lsn = max(own[1] if own else 0, catch_up_to)
    why = _why_losing(found, acknowledged, best, replication is None)
    if replication is not None and replication.one_copy:
        why = "the primary acknowledged writes on its own site alone at this epoch"
    loss = max(0, acknowledged - reachable_lsn) if why else 0
    return Candidate(
        site=site,
        rank=rank,
        dr=ctx.topology.site(site).role is SiteRole.DR,
        unfit=unfit,
        unfit_for_policy=unfit or _unfit(unit, route, site, ctx, by_quorum=True),
        data_losing=why is not None,
        why_losing=why,
        loss=loss,
        catch_up_from=catch_up_from,
        catch_up_to=catch_up_to,
        alone=all(p is None for s, p in found.positions.items() if s != site),
    )


def _why_losing(
    found: Copies, acknowledged: int, best: tuple[str, Position] | None, no_mark: bool
) -> str | None:
    """Why promoting any copy may lose an acknowledged write; None: it cannot."""
    if not found.complete:
        return f"the position of {', '.join(found.unknown())} cannot be learned"
    if no_mark:
        return "the acknowledged position is unknown"
    if best is None or best[1][1] < acknowledged:
        top = best[1][1] if best else 0
        return f"no copy holds lsn {acknowledged}, acknowledged earlier (best {top})"
    return None


def _unfit(unit: str, route: Route, site: str, ctx: Context, *, by_quorum: bool) -> str | None:
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
    if state.position is None:
        return "its journal position is unknown"
    return None


def automatic(
    unit: str, route: Route, cause: Cause, found: list[Candidate], ctx: Context
) -> UnitOutcome | str:
    """The promotion the policy allows on its own, or why there is none."""
    fit = sorted((c for c in found if c.unfit_for_policy is None), key=lambda c: c.preference)
    if not fit:
        problems = "; ".join(f"{c.site}: {c.unfit_for_policy}" for c in found)
        return f"no standby fit for an automatic promotion ({problems})"
    allowed = [c for c in fit if policy_forbids(c, ctx) is None]
    if not allowed:
        return policy_forbids(fit[0], ctx) or ""
    limited = _rate_limited(unit, ctx)
    if limited is not None:
        return limited
    return promote(unit, route, allowed[0], None, cause)


def policy_forbids(candidate: Candidate, ctx: Context) -> str | None:
    policy, replication = ctx.topology.policy, ctx.topology.replication
    if candidate.dr and not policy.remote_dr_auto_promotion:
        return f"{candidate.site} is never promoted automatically under this policy"
    if candidate.data_losing and not candidate.dr and not replication.allow_data_losing_failover:
        return (
            f"promoting {candidate.site} may lose acknowledged writes "
            f"({candidate.why_losing}) and the policy forbids data-losing failover"
        )
    return None


def _rate_limited(unit: str, ctx: Context) -> str | None:
    now, limit = ctx.snapshot.now, ctx.topology.policy.max_failovers_per_unit_per_hour
    recent = sum(
        1
        for f in ctx.snapshot.failovers
        if f.unit == unit and f.from_site != f.to_site and now - f.at < RATE_WINDOW_SECONDS
    )
    if recent < limit:
        return None
    return f"{unit} is rate-limited: {recent} failovers in the last hour (limit {limit})"


def approved(
    unit: str, route: Route, cause: Cause, found: list[Candidate], ctx: Context
) -> UnitOutcome | None:
    """A promotion a person approved for a fit standby at this epoch, covering its loss."""
    for candidate in sorted(found, key=lambda c: c.preference):
        if candidate.unfit is not None:
            continue
        for approval in ctx.snapshot.approvals:
            if (
                approval.granted
                and _matches(approval, unit, candidate.site, route)
                and approval.accepted_loss >= candidate.loss
            ):
                return promote(unit, route, candidate, approval, cause)
    return None


def _matches(approval: Approval, unit: str, site: str, route: Route) -> bool:
    return (approval.unit, approval.to_site, approval.expected_epoch) == (unit, site, route.epoch)


def ask(
    unit: str, route: Route, cause: Cause, found: list[Candidate], ctx: Context, *, why_not: str
) -> UnitOutcome:
    """Wait for a person: the pending approval for the best fit standby, or a new request.

    ``why_not``: why the policy did not act on a confirmed cause (empty: unconfirmed)."""
    fit = sorted((c for c in found if c.unfit is None), key=lambda c: c.preference)
    if not fit:
        problems = "; ".join(f"{c.site}: {c.unfit}" for c in found)
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


def promote(
    unit: str, route: Route, target: Candidate, approval: Approval | None, cause: Cause
) -> UnitOutcome:
    loss = target.loss if target.data_losing else 0
    if approval is not None:
        terms = f" with approval {approval.id} accepting loss of {approval.accepted_loss} entries"
    elif target.data_losing:
        terms = f" accepting loss of at least {loss} entries (the policy allows it)"
    else:
        terms = ""
    if target.catch_up_from is not None:
        terms += f", caught up from {target.catch_up_from} to lsn {target.catch_up_to} first"
    alone = approval is not None and target.alone
    if alone:
        terms += ", acknowledging writes on one site until a failback"
    tail = f" {route.site}→{target.site}{terms}: {cause.text}"
    action = PromoteUnit(
        unit=unit,
        from_site=route.site,
        to_site=target.site,
        expected_epoch=route.epoch,
        new_epoch=route.epoch + 1,
        data_losing=target.data_losing,
        accepted_loss=loss,
        approval_id=approval.id if approval is not None else None,
        reason=f"failing over {unit}{tail}",
        catch_up_from=target.catch_up_from,
        catch_up_to=target.catch_up_to,
        acks_required=0 if alone else None,
    )
    return UnitOutcome(unit, OutcomeKind.FAILING_OVER, "failing over", tail, (action,))
