"""Routes from etcd: a prefix watch keeps the table current; ``refresh`` re-reads once."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping

from failover.dcs import DcsError, EtcdDcs, RouteStore, WatchHandle
from failover.dcs import Route as StoredRoute
from failover.routing import Route, RoutingTable
from failover.topology import Topology

log = logging.getLogger(__name__)


def _as_route(stored: StoredRoute) -> Route:
    return Route(unit=stored.unit, site=stored.site, epoch=stored.epoch)


class EtcdRoutes:
    """:class:`failover.router.source.RouteSource` over the routes prefix in etcd.

    Epochs only move forward in the table (see :mod:`failover.routing`), so a stale watch
    event or a read from a lagging member can never route traffic back to an old primary.
    """

    def __init__(self, topology: Topology, endpoints: list[str], timeout: float = 1.0) -> None:
        self._dcs = EtcdDcs(endpoints, timeout=timeout)
        self._store = RouteStore(self._dcs, topology.name)
        self._table = RoutingTable.empty()
        self._lock = threading.Lock()
        self._watch: WatchHandle | None = None

    def start(self) -> None:
        if self._watch is None:
            self._watch = self._store.watch_routes(self._on_routes)

    def stop(self) -> None:
        if self._watch is not None:
            self._watch.stop()
            self._watch = None
        self._dcs.close()

    def table(self) -> RoutingTable:
        return self._table

    def refresh(self) -> RoutingTable:
        try:
            routes = self._store.all_routes()
        except DcsError as exc:
            log.warning("route refresh failed, keeping the current table: %s", exc)
            return self._table
        self._merge(list(routes.values()))
        return self._table

    def _on_routes(self, routes: Mapping[str, StoredRoute]) -> None:
        self._merge(list(routes.values()))

    def _merge(self, routes: list[StoredRoute]) -> None:
        with self._lock:
            self._table = self._table.apply_all([_as_route(r) for r in routes])
