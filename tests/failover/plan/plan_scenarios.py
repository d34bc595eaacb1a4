"""Snapshot scenarios shared by the decision tests: a healthy system and small edits."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from failover.actions import PromoteUnit
from failover.plan import Decision
from failover.snapshot import Route, Snapshot, UnitReplication, steady_state
from failover.topology import Topology, default_topology

NOW = 1000.0
EVEN = ("u00", "u02", "u04", "u06")
ODD = ("u01", "u03", "u05", "u07")
ALL = tuple(sorted(EVEN + ODD))


def healthy(topo: Topology | None = None) -> Snapshot:
    """Steady state; the leader sits in remote-dr so it survives city-A faults."""
    return steady_state(topo or default_topology(), now=NOW, controller="remote-dr")


def with_instance(s: Snapshot, unit: str, site: str, **fields: Any) -> Snapshot:
    return replace(
        s, instances={**s.instances, (unit, site): replace(s.instance(unit, site), **fields)}
    )


def with_route(s: Snapshot, unit: str, site: str, epoch: int) -> Snapshot:
    return replace(s, routes={**s.routes, unit: Route(site, epoch)})


def with_acknowledged(s: Snapshot, unit: str, lsn: int) -> Snapshot:
    return replace(s, replication={**s.replication, unit: UnitReplication(lsn)})


def promotions(decision: Decision) -> dict[str, PromoteUnit]:
    return {a.unit: a for a in decision.actions if isinstance(a, PromoteUnit)}
