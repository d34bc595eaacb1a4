"""Prometheus metrics of one observer process, served on ``WATERTIGHT_METRICS_PORT``.

An observer has no other HTTP interface (it only writes its report to etcd), so the
series are served by prometheus_client's own small server, on a registry of our own
(tests build several observers in one process). docs/monitoring.md lists each series.
"""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    start_http_server,
)

from failover.observer.report import PublishedReport


class ObserverMetrics:
    """What the latest round saw, as the report it published carries it."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        self.rounds = Counter(
            "watertight_observer_rounds_total", "Probe rounds run", registry=self.registry
        )
        self.publish_failures = Counter(
            "watertight_observer_publish_failures_total",
            "Rounds whose report could not be written to etcd",
            registry=self.registry,
        )
        self.round_seconds = Histogram(
            "watertight_observer_round_seconds",
            "Time one round took: probes and publishing",
            buckets=(0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0),
            registry=self.registry,
        )
        self.site_failed_rounds = Gauge(
            "watertight_observer_site_failed_rounds",
            "Consecutive rounds in which this observer reached nothing of the site",
            ["site"],
            registry=self.registry,
        )
        self.instance_failed_rounds = Gauge(
            "watertight_observer_instance_failed_rounds",
            "Consecutive rounds in which this observer could not reach the unit instance",
            ["unit", "site"],
            registry=self.registry,
        )
        self.last_published = Gauge(
            "watertight_observer_last_published_timestamp_seconds",
            "Unix time of the last report written to etcd",
            registry=self.registry,
        )

    def record(self, report: PublishedReport, published: bool, seconds: float) -> None:
        """Count one round and set the gauges from the report it produced. The failure
        series are rebuilt, so a target no longer probed leaves no series behind."""
        self.rounds.inc()
        self.round_seconds.observe(seconds)
        if published:
            self.last_published.set(report.reported_at)
        else:
            self.publish_failures.inc()
        self.site_failed_rounds.clear()
        for site, failed in report.site_failures.items():
            self.site_failed_rounds.labels(site).set(failed)
        self.instance_failed_rounds.clear()
        for (unit, site), failed in report.instance_failures.items():
            self.instance_failed_rounds.labels(unit, site).set(failed)

    def serve(self, host: str, port: int) -> None:
        """Serve ``/metrics`` on ``host:port`` from a daemon thread (dies with the process)."""
        start_http_server(port, addr=host, registry=self.registry)
