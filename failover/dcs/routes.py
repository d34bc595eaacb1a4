"""Typed helpers for unit routes: ``routes/<unit>`` → ``{"site", "epoch"}``.

The route says which site serves a unit's writes and at which epoch. Only the
controller changes it, and only with :meth:`RouteStore.move_route`: one transaction that
checks the epoch it decided on is still current and that no primary lease
(``leases/primary/<unit>``) exists — so the old primary has fenced itself — then writes
the new site with ``epoch + 1`` (in place, possibly past an epoch its instance drifted
to) (docs/design.md §3.1).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from failover.dcs.codec import canonical_json
from failover.dcs.errors import CasFailed, DcsError, DcsOutcomeUnknown
from failover.dcs.keys import Keys
from failover.dcs.port import Compare, Dcs, KeyValue, Put, WatchHandle, WatchKind, WatchUpdate
from failover.topology import Topology


@dataclass(frozen=True, slots=True)
class Route:
    unit: str
    site: str
    epoch: int

    def encode(self) -> str:
        return canonical_json({"site": self.site, "epoch": self.epoch})

    @classmethod
    def decode(cls, unit: str, value: str) -> Route:
        try:
            data = json.loads(value)
            return cls(unit=unit, site=str(data["site"]), epoch=int(data["epoch"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise DcsError(
                f"route of unit {unit} is not valid JSON {{site, epoch}}: {value!r}"
            ) from exc


RoutesCallback = Callable[[Mapping[str, Route]], None]


class RouteStore:
    """Routes of one topology in the quorum store."""

    def __init__(self, dcs: Dcs, topology_name: str) -> None:
        self._dcs = dcs
        self.keys = Keys(topology_name)

    def all_routes(self) -> dict[str, Route]:
        """Every unit's route, by unit name (linearizable read)."""
        return self._decode_all(self._dcs.get_prefix(self.keys.routes_prefix))

    def route(self, unit: str) -> Route | None:
        kv = self._dcs.get(self.keys.route(unit))
        return None if kv is None else Route.decode(unit, kv.value)

    def seed(self, topology: Topology) -> dict[str, Route]:
        """Create each unit's route at its placement's primary, epoch 1 — only where no
        route exists yet (a restart never rewinds a failover). Returns all routes."""
        for unit in topology.units:
            route = Route(unit, topology.placement(unit).primary, 1)
            key = self.keys.route(unit)
            self._dcs.txn([Compare.absent(key)], [Put(key, route.encode())])
        return self.all_routes()

    def move_route(
        self, unit: str, expected_epoch: int, new_site: str, *, new_epoch: int | None = None
    ) -> Route:
        """Move ``unit`` to ``new_site`` at ``expected_epoch + 1`` in one transaction.

        ``new_epoch`` may skip further ahead only when the route stays in its site (an
        in-place re-promotion of an instance that drifted past its route's epoch).

        Succeeds only if the route's epoch is still ``expected_epoch`` and
        ``leases/primary/<unit>`` does not exist. Raises :class:`CasFailed` (with the
        route found) otherwise. When the answer is lost, the route is re-read: if it
        already shows the move, the move is returned; else :class:`DcsOutcomeUnknown`.
        """
        current = self.route(unit)
        if current is None:
            raise CasFailed(f"unit {unit} has no route; seed the routes first", found=None)
        if current.epoch != expected_epoch:
            raise CasFailed(
                f"unit {unit} is at epoch {current.epoch} in {current.site}, not "
                f"{expected_epoch}: someone moved it; re-read and decide again",
                found=current,
            )
        epoch = expected_epoch + 1 if new_epoch is None else new_epoch
        if epoch <= expected_epoch or (epoch != expected_epoch + 1 and new_site != current.site):
            raise ValueError(f"cannot move {unit} from epoch {expected_epoch} to epoch {epoch}")
        target = Route(unit, new_site, epoch)
        route_key, lease_key = self.keys.route(unit), self.keys.primary_lease(unit)
        compares = [Compare.value_is(route_key, current.encode()), Compare.absent(lease_key)]
        try:
            result = self._dcs.txn(compares, [Put(route_key, target.encode())])
        except DcsOutcomeUnknown:
            if self.route(unit) == target:
                return target
            raise
        if result.succeeded:
            return target
        holder = self._dcs.get(lease_key)
        found = self.route(unit)
        if holder is not None:
            raise CasFailed(
                f"unit {unit} still has a primary lease ({holder.value}); wait until that "
                "primary fences and its lease expires (or revoke it) before moving the route",
                found=found,
            )
        raise CasFailed(
            f"unit {unit} changed while moving it (now {found}); re-read and decide again",
            found=found,
        )

    def watch_routes(self, callback: RoutesCallback) -> WatchHandle:
        """Call ``callback`` with the full route table on every change (from a background
        thread). The first call has every route; after a reconnect, the table is rebuilt
        from a fresh snapshot, so no change is missed."""
        table: dict[str, Route] = {}
        lock = threading.Lock()
        prefix = self.keys.routes_prefix

        def on_update(update: WatchUpdate) -> None:
            with lock:
                if update.kind is WatchKind.SNAPSHOT:
                    table.clear()
                    table.update(self._decode_all(update.snapshot))
                for event in update.events:
                    unit = self.keys.unit_of(event.key, prefix)
                    if event.value is None:
                        table.pop(unit, None)
                    else:
                        table[unit] = Route.decode(unit, event.value)
                view = dict(table)
            callback(view)

        return self._dcs.watch_prefix(prefix, on_update)

    def _decode_all(self, items: Mapping[str, KeyValue]) -> dict[str, Route]:
        prefix = self.keys.routes_prefix
        routes = (Route.decode(self.keys.unit_of(k, prefix), kv.value) for k, kv in items.items())
        return {r.unit: r for r in routes}
