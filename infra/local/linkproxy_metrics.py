"""Prometheus metrics of the link proxy (``GET /metrics`` on its control API).

Read at scrape time from :meth:`LinkProxy.links`, the same rows ``GET /v1/links``
answers, so the series never disagree with what the CLI shows. docs/monitoring.md lists
each series.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast, get_args

from prometheus_client import CollectorRegistry, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from infra.local.linkproxy import LinkProxy
from infra.local.linkproxy_modes import ModeKind

MODE_KINDS: tuple[str, ...] = get_args(ModeKind)
#: Connection outcomes of :class:`~infra.local.linkproxy_connection.LinkStats`.
OUTCOMES = ("accepted", "refused", "held", "dropped", "reset", "abandoned")


class LinkCollector(Collector):
    def __init__(self, proxy: LinkProxy) -> None:
        self._proxy = proxy

    def collect(self) -> Iterator[Metric]:
        mode = GaugeMetricFamily(
            "watertight_linkproxy_link_mode",
            "1 for the link's current mode, 0 for the others",
            labels=["a", "b", "mode"],
        )
        delay = GaugeMetricFamily(
            "watertight_linkproxy_base_delay_seconds",
            "Standing one-way delay of the link",
            labels=["a", "b"],
        )
        connections = CounterMetricFamily(
            "watertight_linkproxy_connections",
            "Connections across the link, by what the proxy did with them",
            labels=["a", "b", "outcome"],
        )
        chunks = CounterMetricFamily(
            "watertight_linkproxy_chunks",
            "Chunks forwarded across the link",
            labels=["a", "b"],
        )
        for row in self._proxy.links():
            a, b = str(row["a"]), str(row["b"])
            # The row's shape is LinkProxy.links()'s: mode = LinkMode dump, stats = LinkStats.
            current = cast(dict[str, Any], row["mode"])
            stats = cast(dict[str, int], row["stats"])
            base_ms = cast(float, row["base_delay_ms"])
            for kind in MODE_KINDS:
                mode.add_metric([a, b, kind], 1 if current["kind"] == kind else 0)
            delay.add_metric([a, b], base_ms / 1000)
            for outcome in OUTCOMES:
                connections.add_metric([a, b, outcome], stats.get(outcome, 0))
            chunks.add_metric([a, b], stats.get("chunks", 0))
        yield from (mode, delay, connections, chunks)


def linkproxy_registry(proxy: LinkProxy) -> CollectorRegistry:
    """A registry with the link series of ``proxy`` and this process's ``process_*``."""
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    registry.register(LinkCollector(proxy))
    return registry
