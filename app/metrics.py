"""Prometheus metrics of one unit instance, in a registry of its own (several apps may
live in one test process)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.replication import LinkStatus
from app.roles import ROLES, NodeRole


class UnitMetrics:
    """Request counters and latencies, role, epoch and replication lag."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        # process_* of this process: one instance per process outside tests, and the
        # registry is ours, not the global default that would carry them on its own.
        ProcessCollector(registry=self.registry)
        self.requests = Counter(
            "watertight_unit_requests",
            "HTTP requests by route and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "watertight_unit_request_seconds",
            "HTTP request latency.",
            ["method", "route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
            registry=self.registry,
        )
        self.role = Gauge(
            "watertight_unit_role", "1 for the current role.", ["role"], registry=self.registry
        )
        self.epoch = Gauge("watertight_unit_epoch", "Current epoch.", registry=self.registry)
        self.last_lsn = Gauge(
            "watertight_unit_last_lsn", "Last journal lsn.", registry=self.registry
        )
        self.lag = Gauge(
            "watertight_unit_replication_lag_entries",
            "Journal entries a standby has not applied yet (primary only).",
            ["standby"],
            registry=self.registry,
        )
        self.durable_lsn = Gauge(
            "watertight_unit_durable_lsn",
            "Highest lsn durable by the commit rule (primary only; 0 otherwise).",
            registry=self.registry,
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def render(
        self, role: NodeRole, last_lsn: int, links: list[LinkStatus], durable_lsn: int = 0
    ) -> bytes:
        """Refresh the gauges from the current state and return the exposition text."""
        for name in ROLES:
            self.role.labels(name).set(1 if role.role == name else 0)
        self.epoch.set(role.epoch)
        self.last_lsn.set(last_lsn)
        self.durable_lsn.set(durable_lsn)
        self.lag.clear()
        for link in links:
            applied = link.applied_lsn if link.applied_lsn is not None else 0
            self.lag.labels(link.site).set(last_lsn - applied)
        return generate_latest(self.registry)


@dataclass(frozen=True)
class RouteLabel:
    """What :class:`MetricsMiddleware` reads of a matched route: its path template. A lane
    that serves a route ahead of FastAPI's routing puts one in the scope as ``route``."""

    path: str


# Methods a client may send are unbounded (any token is a valid HTTP method); a label
# per method would let anyone grow the registry without limit.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class MetricsMiddleware:
    """Counts and times every HTTP request by method, route template and status.

    A method outside :data:`KNOWN_METHODS` is counted as ``other``.
    """

    def __init__(self, app: ASGIApp, metrics: UnitMetrics) -> None:
        self._app = app
        self._metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self._app(scope, receive, send_and_record)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            method = scope["method"] if scope["method"] in KNOWN_METHODS else "other"
            self._metrics.observe(method, route, status, time.perf_counter() - started)
