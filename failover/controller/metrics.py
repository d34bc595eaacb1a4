"""Prometheus metrics of one controller (``GET /metrics``), on its own registry.

Every controller, leader or not, exports what its last cycle saw: they all read the same
observer reports and routes from etcd, so their gauges agree, and the alerts in
``monitoring/prometheus/rules.yml`` take the ``max`` over controllers (the controller of
a lost site is not scraped). docs/monitoring.md lists each series.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, ProcessCollector

from failover.controller.builder import World
from failover.plan import Decision
from failover.quorum import SiteState
from failover.snapshot import Role, Snapshot
from failover.topology import Topology
from failover.trends import TrendWarning


class ControllerMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        # process_* (CPU, memory, open fds, start time) of this process: each controller
        # runs in its own process, and the registry is ours, not the global default.
        ProcessCollector(registry=self.registry)
        self.cycles = Counter(
            "watertight_controller_cycles_total", "Controller cycles run", registry=self.registry
        )
        self.actions = Counter(
            "watertight_controller_actions_total",
            "Actions carried out, by kind",
            ["kind"],
            registry=self.registry,
        )
        self.failovers = Counter(
            "watertight_controller_failovers_total",
            "Promotions that moved a unit to another site",
            ["unit"],
            registry=self.registry,
        )
        self.leader = Gauge(
            "watertight_controller_leader", "1 while this controller leads", registry=self.registry
        )
        self.detection = Gauge(
            "watertight_controller_detection_seconds",
            "Seconds from a site's first failed round to its down verdict (last one)",
            ["site"],
            registry=self.registry,
        )
        self.site_verdict = Gauge(
            "watertight_controller_site_verdict",
            "1 for the site's verdict in the last cycle, 0 for every other state",
            ["site", "state"],
            registry=self.registry,
        )
        self.frozen = Gauge(
            "watertight_controller_frozen",
            "1 while automatic moves are frozen",
            registry=self.registry,
        )
        self.pending_approvals = Gauge(
            "watertight_controller_pending_approvals",
            "Approvals waiting for a person",
            registry=self.registry,
        )
        self.unit_epoch = Gauge(
            "watertight_controller_unit_epoch", "Route epoch per unit", ["unit"],
            registry=self.registry,
        )  # fmt: skip
        self.unit_primary_site = Gauge(
            "watertight_controller_unit_primary_site",
            "1 for the site the unit's route names, 0 for the unit's other sites",
            ["unit", "site"],
            registry=self.registry,
        )
        self.writable_primary = Gauge(
            "watertight_controller_unit_writable_primary",
            "1 when the routed instance answers as primary at the route's epoch and holds "
            "the unit's lease",
            ["unit"],
            registry=self.registry,
        )
        self.trend_warning = Gauge(
            "watertight_trend_warning",
            "1 while the trend watch warns of this kind for this unit (unit empty: the "
            "site's aggregate); never an action",
            ["kind", "site", "unit"],
            registry=self.registry,
        )
        self.replication_lag = Gauge(
            "watertight_controller_replication_lag_entries",
            "Lag of each standby as its primary reports it",
            ["unit", "standby"],
            registry=self.registry,
        )

    def refresh(
        self,
        topology: Topology,
        leading: bool,
        world: World | None,
        decision: Decision | None,
    ) -> None:
        """Set every gauge from the last cycle (``world``/``decision``: None before the
        first cycle that could read etcd, when only ``leader`` is set).

        Series are keyed so that none goes stale: per unit and site every site of the
        topology is present (0 or 1), the epoch carries no site label, and the lag
        series are rebuilt each time, so a failover leaves no series of the old layout.
        """
        self.leader.set(1 if leading else 0)
        if world is not None:
            self._refresh_world(topology, world)
        if decision is not None:
            for site, verdict in decision.sites.items():
                for state in SiteState:
                    self.site_verdict.labels(site, str(state)).set(
                        1 if verdict.state is state else 0
                    )

    def show_trends(self, active: Iterable[TrendWarning]) -> None:
        """Exactly the standing warnings, each at 1: rebuilt every cycle, so a cleared
        warning (or a unit that moved site) leaves no series behind."""
        self.trend_warning.clear()
        for warning in active:
            self.trend_warning.labels(*_trend_labels(warning)).set(1)

    def _refresh_world(self, topology: Topology, world: World) -> None:
        snapshot = world.snapshot
        self.frozen.set(1 if snapshot.frozen else 0)
        self.pending_approvals.set(sum(1 for a in world.approvals if a.status == "pending"))
        for unit in topology.units:
            # Every unit's counter exists from the start at 0, so increase() sees the
            # first failover (a series born at 1 would show no increase).
            self.failovers.labels(unit)
            route = snapshot.routes.get(unit)
            for site in topology.site_names:
                here = route is not None and route.site == site
                self.unit_primary_site.labels(unit, site).set(1 if here else 0)
            if route is not None:
                self.unit_epoch.labels(unit).set(route.epoch)
            self.writable_primary.labels(unit).set(1 if writable(snapshot, unit) else 0)
        self.replication_lag.clear()
        for unit, view in world.primaries.items():
            for standby, info in view.standbys.items():
                lag = info.get("lag_entries")
                if isinstance(lag, int):
                    self.replication_lag.labels(unit, standby).set(lag)


def _trend_labels(warning: TrendWarning) -> tuple[str, str, str]:
    return (warning.kind, warning.site, warning.unit or "")


def writable(snapshot: Snapshot, unit: str) -> bool:
    """Whether ``unit`` has a primary that may accept writes right now, as far as the
    snapshot shows: its route exists, the instance in the routed site answered as
    primary at the route's epoch, and the lease key names that site and epoch. A
    primary that answers but reaches no standby still counts (it refuses writes by the
    commit rule; the replication lag series show that)."""
    route = snapshot.routes.get(unit)
    if route is None:
        return False
    instance = snapshot.instance(unit, route.site)
    lease = snapshot.leases.get(unit)
    return (
        instance.reachable
        and instance.role is Role.PRIMARY
        and instance.epoch == route.epoch
        and lease is not None
        and (lease.site, lease.epoch) == (route.site, route.epoch)
    )
