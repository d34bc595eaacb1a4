"""The route source port: how the router learns the routing table.

Contract: :meth:`RouteSource.table` is cheap and never blocks (it returns the latest
snapshot, kept current in the background by a watch — no store round-trip per request);
:meth:`RouteSource.refresh` re-reads the store once, bounded in time, and returns the new
table (or the old one if the store is unreachable). Implementations: :class:`StaticRoutes`
(tests, the single-unit demo) and ``failover.router.etcd_source.EtcdRoutes``.
"""

from __future__ import annotations

from typing import Protocol

from failover.routing import Route, RoutingTable


class RouteSource(Protocol):
    """Where routes come from."""

    def start(self) -> None:
        """Begin watching. Idempotent."""

    def stop(self) -> None:
        """Stop watching and release connections. Idempotent."""

    def table(self) -> RoutingTable:
        """The latest routing table (non-blocking)."""

    def refresh(self) -> RoutingTable:
        """Re-read all routes from the store now (time-bounded) and return the table."""


class StaticRoutes:
    """Routes held in memory and changed by :meth:`set` — for tests and demos."""

    def __init__(self, routes: list[Route] | None = None) -> None:
        self._table = RoutingTable.empty().apply_all(routes or [])

    def start(self) -> None:
        return None

    def stop(self) -> None:
        return None

    def table(self) -> RoutingTable:
        return self._table

    def refresh(self) -> RoutingTable:
        return self._table

    def set(self, route: Route) -> None:
        self._table = self._table.apply(route)
