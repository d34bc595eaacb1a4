"""The routing table: which site serves each unit's writes, at which epoch. Pure.

A route only ever moves forward: an update with an epoch lower than the one held is
ignored, so a late or replayed watch event can never send traffic back to a fenced
primary (docs/design.md §3.1: anything from an older epoch is refused).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True, slots=True)
class Route:
    """The writable primary of one unit: ``site`` at ``epoch``."""

    unit: str
    site: str
    epoch: int

    def to_json(self) -> str:
        return json.dumps({"site": self.site, "epoch": self.epoch}, sort_keys=True)

    @classmethod
    def from_json(cls, unit: str, text: str | bytes) -> Route:
        """Parse the stored form ``{"site": ..., "epoch": ...}``; ValueError if malformed."""
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError(f"route for {unit} is not a JSON object: {text!r}")
        site, epoch = data.get("site"), data.get("epoch")
        if not isinstance(site, str) or not isinstance(epoch, int) or epoch < 0:
            raise ValueError(f"route for {unit} needs a site and a non-negative epoch: {text!r}")
        return cls(unit=unit, site=site, epoch=epoch)


@dataclass(frozen=True)
class RoutingTable:
    """An immutable snapshot of all routes; :meth:`apply` returns a new table."""

    routes: Mapping[str, Route]

    @classmethod
    def empty(cls) -> RoutingTable:
        return cls(MappingProxyType({}))

    def get(self, unit: str) -> Route | None:
        return self.routes.get(unit)

    def apply(self, route: Route) -> RoutingTable:
        """The table with ``route`` applied, unless it is older than what is held."""
        held = self.routes.get(route.unit)
        if held is not None and route.epoch < held.epoch:
            return self
        if held == route:
            return self
        updated = dict(self.routes)
        updated[route.unit] = route
        return RoutingTable(MappingProxyType(updated))

    def apply_all(self, routes: list[Route]) -> RoutingTable:
        table = self
        for route in routes:
            table = table.apply(route)
        return table
