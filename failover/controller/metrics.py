"""Prometheus metrics of one controller (``GET /metrics``), on its own registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class ControllerMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
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
        self.unit_epoch = Gauge(
            "watertight_controller_unit_epoch", "Route epoch per unit", ["unit", "site"],
            registry=self.registry,
        )  # fmt: skip
        self.replication_lag = Gauge(
            "watertight_controller_replication_lag_entries",
            "Lag of each standby as its primary reports it",
            ["unit", "standby"],
            registry=self.registry,
        )
