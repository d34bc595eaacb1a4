"""One controller process's parts, wired, and the operations the API exposes.

Kept apart from the HTTP layer so tests can drive a runtime with fakes (MemoryDcs, a
fake prober) and the API stays a thin mapping of routes to these methods.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

from failover.controller.cycle import Controller
from failover.controller.leadership import LeaderLease
from failover.controller.metrics import ControllerMetrics
from failover.controller.planned import PlannedMoves
from failover.controller.records import RecordStore
from failover.controller.state import ControllerState
from failover.controller.wakeups import CycleWakeups
from failover.credentials import Credentials
from failover.errors import InvalidRequest, NotLeader, UnsafeAction
from failover.observer.addresses import SiteAddresses
from failover.quorum import SiteState
from failover.topology import Topology


@dataclass
class Runtime:
    site: str
    topology: Topology
    credentials: Credentials
    addresses: SiteAddresses
    leadership: LeaderLease
    controller: Controller
    state: ControllerState
    records: RecordStore
    planned: PlannedMoves
    metrics: ControllerMetrics
    wakeups: CycleWakeups

    # -- moves ------------------------------------------------------------------------

    def _require_leader(self) -> None:
        if not self.leadership.valid():
            holder = self.leadership.holder
            raise NotLeader(self.site, holder.id if holder else None)

    def move(self, unit: str | None, site: str | None, to: str | None, kind: str) -> list[str]:
        """Switchover (or manual failover) of one unit or of every unit of a site."""
        if (unit is None) == (site is None):
            raise InvalidRequest("give exactly one of 'unit' or 'site'", field="unit")
        if to is None:
            raise InvalidRequest("'to' (the target site) is required", field="to")
        self._require_leader()
        if unit is not None:
            return [self.planned.switchover_unit(unit, to, kind)]
        assert site is not None
        return self.planned.switchover_site(site, to, kind)

    def failback(self, site: str) -> list[str]:
        """Move back to ``site`` every unit whose placement puts its primary there.

        Idempotent: with every such unit already primary in ``site`` it does nothing and
        says so (a drill's rollback may ask for a failback that its method never needed).
        """
        if site not in self.topology.site_names:
            raise InvalidRequest(f"unknown site {site!r}", field="site")
        self._require_leader()
        world = self.controller.last_world
        routes = world.snapshot.routes if world else {}
        units = [
            u
            for u in self.topology.units
            if self.topology.placement(u).primary == site
            and routes.get(u)
            and routes[u].site != site
        ]
        if not units:
            return [f"nothing to fail back: every unit placed in {site} is already primary there"]
        window = self.topology.timing.failback_stability_seconds
        up_for = self.controller.up_for(site)
        if up_for is None or up_for < window:
            seen = "not up" if up_for is None else f"up for {up_for:.0f} s"
            raise UnsafeAction(
                f"fail back to {site}", f"{site} is {seen}; failback needs {window:g} s of health"
            )
        return [self.planned.switchover_unit(u, site, "failback") for u in units]

    # -- approvals --------------------------------------------------------------------

    def approve(self, approval_id: str, accept_loss: int | None, approver: str) -> dict[str, Any]:
        """``approver`` (the name its credential carries, never free text) approves.

        Granted once ``policy.distinct_approvers`` different approvers have approved; the
        loss accepted is then the smallest any of them accepted. Each approval is an event
        naming its approver (the audit trail). 409 when it is no longer pending or this
        approver already approved it: the same person twice counts once.
        """
        approval = self.state.approval(approval_id)
        if approval is None:
            raise InvalidRequest(f"unknown approval {approval_id!r}", field="id")
        if approval.status != "pending":
            raise UnsafeAction(f"approve {approval_id}", f"it is already {approval.status}")
        if any(name == approver for name, _ in approval.approvers):
            raise UnsafeAction(
                f"approve {approval_id}",
                f"{approver} already approved it; it needs another approver",
            )
        loss = approval.estimated_loss if accept_loss is None else accept_loss
        if loss < approval.estimated_loss:
            raise InvalidRequest(
                f"accept_loss {loss} is below the estimated loss of {approval.estimated_loss} "
                "entries; accept at least that", field="accept_loss",
            )  # fmt: skip
        approvers = (*approval.approvers, (approver, loss))
        needed = self.topology.policy.distinct_approvers
        names = [name for name, _ in approvers]
        where = f"promote {approval.unit} in {approval.to_site}"
        if len(approvers) < needed:
            updated = replace(approval, approvers=approvers)
            self.state.put_approval(updated)
            self.records.record(
                "approval_given",
                f"approval {approval_id} given by {approver} ({len(approvers)} of {needed}): "
                f"{where} accepting loss of {loss} entries",
                unit=approval.unit, site=approval.to_site, approval_id=approval_id,
                approver=approver, approvers=names, needed=needed, accepted_loss=loss,
            )  # fmt: skip
            return {"approval": _approval_json(updated)}
        accepted = min(value for _, value in approvers)
        granted = replace(
            approval, status="granted", accepted_loss=accepted, decided_at=time.time(),
            decided_by=", ".join(names), approvers=approvers,
        )  # fmt: skip
        self.state.put_approval(granted)
        self.records.record(
            "approval_granted",
            f"approval {approval_id} granted by {', '.join(names)}: {where} "
            f"accepting loss of {accepted} entries",
            unit=approval.unit, site=approval.to_site, approval_id=approval_id,
            approver=approver, approvers=names, accepted_loss=accepted,
            estimated_loss=approval.estimated_loss,
        )  # fmt: skip
        return {"approval": _approval_json(granted)}

    # -- reads ------------------------------------------------------------------------

    def leader_url(self) -> str | None:
        holder = self.leadership.holder
        return holder.url if holder else None

    def status(self) -> dict[str, Any]:
        world, decision = self.controller.last_world, self.controller.last_decision
        holder = self.leadership.holder
        out: dict[str, Any] = {
            "controller": self.site,
            "leader": holder.id if holder else None,
            "leader_url": holder.url if holder else None,
            "is_leader": self.leadership.valid(),
            "summary": self.controller.last_summary,
            "sites": {},
            "units": {},
            "approvals": [],
            "frozen": False,
            "trend_warnings": [],
        }
        if world is None or decision is None:
            return out
        snapshot = world.snapshot
        out["frozen"] = snapshot.frozen
        for site, verdict in decision.sites.items():
            out["sites"][site] = {
                "state": str(verdict.state),
                "reason": verdict.reason,
                "observers": {
                    o: r.site_failures.get(site) for o, r in world.reports.items() if o != site
                },
            }
        for unit, route in snapshot.routes.items():
            view = world.primaries.get(unit)
            repl = snapshot.replication.get(unit)
            out["units"][unit] = {
                "primary_site": route.site,
                "epoch": route.epoch,
                "standbys": dict(view.standbys) if view else {},
                "durable_lsn": view.durable_lsn if view else None,
                "acknowledged_lsn": repl.acknowledged_lsn if repl else None,
            }
        out["approvals"] = [_approval_json(a) for a in world.approvals if a.status == "pending"]
        trends = self.controller.trends
        out["trend_warnings"] = [
            {"unit": w.unit, "site": w.site, "kind": w.kind, "reason": w.reason,
             "for_seconds": round(snapshot.now - w.since, 1)}
            for w in (trends.active if trends is not None else ())
        ]  # fmt: skip
        return out

    def refresh_metrics(self) -> None:
        self.metrics.refresh(
            self.topology,
            self.leadership.valid(),
            self.controller.last_world,
            self.controller.last_decision,
        )

    def site_up(self, site: str) -> bool:
        decision = self.controller.last_decision
        return bool(decision and decision.sites[site].state is SiteState.UP)


def _approval_json(a: Any) -> dict[str, Any]:
    return {
        "id": a.id,
        "unit": a.unit,
        "from_site": a.from_site,
        "to_site": a.to_site,
        "expected_epoch": a.expected_epoch,
        "estimated_loss": a.estimated_loss,
        "accepted_loss": a.accepted_loss,
        "status": a.status,
        "reason": a.reason,
        "requested_at": a.requested_at,
        "approvers": [name for name, _ in a.approvers],
    }
