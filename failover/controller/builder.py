"""Build one cycle's frozen :class:`~failover.snapshot.Snapshot` from etcd.

All snapshot times are on the builder's monotonic clock, read once (``now``); wall-clock
times stored in etcd (observer reports, failover history) are converted with one
wall/monotonic pair read at the same moment.

Instance states come from this site's observer report, and for an instance it could
not reach, from another fresh observer's report (the leader may sit behind a partition).
Everything seen comes from the observers' published reports. The acknowledged-LSN
high-water mark is the largest of the mark in etcd and the durable lsn every fresh
observer saw primaries report (docs/design.md §2: every acknowledged write is at or
below a primary's durable lsn).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from failover.controller.state import ControllerState, ReplicationMark, StoredApproval
from failover.dcs import Dcs, Keys, RouteStore
from failover.dcs.view import ReadView
from failover.observer.observer import durable_lsn
from failover.observer.report import PublishedReport
from failover.quorum import stale_after_seconds
from failover.snapshot import (
    Approval,
    FailoverRecord,
    InstanceState,
    LeaseHolder,
    Role,
    Route,
    Snapshot,
    UnitReplication,
)
from failover.topology import Topology


@dataclass(frozen=True)
class PrimaryView:
    """What a unit's current primary says about its replication (from ``/v1/unit``)."""

    unit: str
    site: str
    epoch: int
    last_lsn: int
    durable_lsn: int
    standbys: Mapping[str, Mapping[str, Any]]


@dataclass(frozen=True)
class World:
    """The snapshot plus what only the adapters need (replication detail, raw records)."""

    snapshot: Snapshot
    primaries: Mapping[str, PrimaryView] = field(default_factory=dict)
    reports: Mapping[str, PublishedReport] = field(default_factory=dict)
    marks: Mapping[str, ReplicationMark] = field(default_factory=dict)
    approvals: tuple[StoredApproval, ...] = ()
    acknowledged: Mapping[str, int] = field(default_factory=dict)
    wall_now: float = 0.0
    traffic: Mapping[str, Any] = field(default_factory=dict)
    """Per unit, the ``traffic`` its routed instance last reported (the trend watch's
    input; never the decision's)."""


class SnapshotBuilder:
    def __init__(
        self,
        topology: Topology,
        dcs: Dcs,
        controller: str,
        leader: Callable[[], str | None],
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._topology, self._dcs = topology, dcs
        self._keys = Keys(topology.name)
        self._controller, self._leader = controller, leader
        self._clock, self._wall = clock, wall_clock

    def build(self) -> World:
        """Read everything once: one range request over the topology's keys, so the
        snapshot is the store at one revision (:class:`ReadView`). Raises ``DcsError``
        when etcd cannot answer."""
        view = ReadView.read(self._dcs, self._keys.root)
        state = ControllerState(view, self._keys)
        now, wall = self._clock(), self._wall()

        def to_mono(t: float) -> float:
            return now - (wall - t)

        stored_routes = RouteStore(view, self._topology.name).all_routes()
        routes = {u: Route(r.site, r.epoch) for u, r in stored_routes.items()}
        reports = self._reports(view)
        limit = stale_after_seconds(self._topology.timing)
        fresh = {s: r for s, r in reports.items() if wall - r.reported_at <= limit}
        instances, bodies = self._instances(fresh)
        marks = state.marks()
        stored = state.approvals()
        acknowledged = _acknowledged(marks, fresh, bodies)
        primaries = _primaries(routes, bodies)
        snapshot = Snapshot(
            topology=self._topology,
            now=now,
            controller=self._controller,
            leader=self._leader(),
            observer_reports={s: r.as_report(to_mono(r.reported_at)) for s, r in reports.items()},
            routes=routes,
            leases=self._leases(view),
            instances=instances,
            replication={
                u: UnitReplication(acknowledged.get(u, 0), _one_copy(marks.get(u), r))
                for u, r in routes.items()
            },
            approvals=tuple(_approval(a) for a in stored if a.open),
            failovers=tuple(
                FailoverRecord(unit, to_mono(m.at), m.from_site, m.to_site, m.epoch)
                for unit, moves in state.moves().items()
                for m in moves
            ),
            in_flight=tuple(state.operations()),
            frozen=state.frozen() is not None,
        )
        traffic = {
            u: bodies[u, r.site].get("traffic") for u, r in routes.items() if (u, r.site) in bodies
        }
        return World(
            snapshot, primaries, reports, marks, tuple(stored), acknowledged, wall, traffic
        )

    def _reports(self, view: ReadView) -> dict[str, PublishedReport]:
        found: dict[str, PublishedReport] = {}
        for kv in view.get_prefix(self._keys.observers_prefix).values():
            try:
                report = PublishedReport.decode(kv.value)
            except ValueError:
                continue
            found[report.observer] = report
        return found

    def _leases(self, view: ReadView) -> dict[str, LeaseHolder]:
        prefix = self._keys.primary_leases_prefix
        leases = {}
        for key, kv in view.get_prefix(prefix).items():
            data = json.loads(kv.value)
            leases[key[len(prefix) :]] = LeaseHolder(str(data["site"]), int(data["epoch"]))
        return leases

    def _instances(
        self, fresh: Mapping[str, PublishedReport]
    ) -> tuple[dict[tuple[str, str], InstanceState], dict[tuple[str, str], Mapping[str, Any]]]:
        """What this site's observer saw first; an instance it did not reach, as a fresh
        observer *outside the instance's site* saw it (the leader may sit behind a
        partition). A site's own observer still reaches its instances when the site is cut
        off, or for a while after it died, so its word alone never makes them reachable."""
        ordered = sorted(fresh.values(), key=lambda r: r.observer != self._controller)
        bodies: dict[tuple[str, str], Mapping[str, Any]] = {}
        for report in ordered:
            own = report.observer == self._controller
            for unit, sites in report.units.items():
                for site, seen in sites.items():
                    if own or site != report.observer:
                        bodies.setdefault((unit, site), seen)
        return {key: _state(body) for key, body in bodies.items()}, bodies


def _state(body: Mapping[str, Any]) -> InstanceState:
    role = body.get("role")
    epoch, lsn, last_epoch = body.get("epoch"), body.get("last_lsn"), body.get("last_entry_epoch")
    return InstanceState(
        reachable=True,
        role=Role(role) if role in ("primary", "standby", "fenced") else None,
        epoch=int(epoch) if isinstance(epoch, int) else None,
        applied_lsn=int(lsn) if isinstance(lsn, int) else None,
        last_entry_epoch=int(last_epoch) if isinstance(last_epoch, int) else None,
    )


def _primaries(
    routes: Mapping[str, Route], bodies: Mapping[tuple[str, str], Mapping[str, Any]]
) -> dict[str, PrimaryView]:
    views = {}
    for unit, route in routes.items():
        body = bodies.get((unit, route.site))
        if body is None or body.get("role") != "primary" or body.get("epoch") != route.epoch:
            continue
        views[unit] = PrimaryView(
            unit=unit,
            site=route.site,
            epoch=route.epoch,
            last_lsn=int(body.get("last_lsn") or 0),
            durable_lsn=int(body.get("durable_lsn") or 0),
            standbys={s["site"]: s for s in body.get("standbys") or () if "site" in s},
        )
    return views


def _acknowledged(
    marks: Mapping[str, ReplicationMark],
    fresh: Mapping[str, PublishedReport],
    bodies: Mapping[tuple[str, str], Mapping[str, Any]],
) -> dict[str, int]:
    found = {unit: mark.acknowledged_lsn for unit, mark in marks.items()}
    seen = [r.acknowledged for r in fresh.values()]
    seen.append({u: lsn for (u, _), b in bodies.items() if (lsn := durable_lsn(b)) is not None})
    for sample in seen:
        for unit, lsn in sample.items():
            found[unit] = max(found.get(unit, 0), lsn)
    return found


def _one_copy(mark: ReplicationMark | None, route: Route) -> bool:
    return mark is not None and mark.one_copy and mark.epoch == route.epoch


def _approval(a: StoredApproval) -> Approval:
    granted = a.status == "granted"
    loss = a.accepted_loss if granted else a.estimated_loss
    return Approval(a.id, a.unit, a.to_site, a.expected_epoch, loss, granted)
