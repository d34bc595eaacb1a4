"""The console view: one JSON object with everything the console page shows.

Pure: it reads a controller's ``/v1/status`` object (``Runtime.status``), the topology,
the controller's recent events and a :class:`History`, and returns plain JSON. No clock
(the caller passes ``wall_now``), no I/O, so a test can feed it any state.

The view (every time Unix seconds)::

    {"at", "controller", "leader", "is_leader", "leader_url", "summary", "frozen",
     "sites": [{"name", "city", "role", "state", "reason", "observers"}],
     "units": [{"name", "placement_primary", "primary_site", "epoch", "moved",
                "standbys": [{"site", "lag_entries", "healthy"}], "durable_lsn",
                "acknowledged_lsn", "warnings": [...],
                "sparklines": {"writes_per_second": [...], "lag_entries": [...]}}],
     "approvals": [...], "site_warnings": [...],
     "timeline": [{"id", "at", "kind", "unit", "site", "summary"}],  # newest first
     "timeline_source": "controller-events"}

``state`` of a site is the controller's quorum verdict (``up``, ``suspect``, ``down``…),
or ``unknown`` before its first cycle. A unit's ``standbys`` are the two sites other than
its route's; ``lag_entries`` is what the primary reports for each (null when the primary
is not reachable or has not heard from that standby). ``moved`` is true when the route
points away from the placement's primary.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from failover.events import Event
from failover.topology import Topology

TIMELINE_LENGTH = 40
"""Events shown, newest first: a drill's detection, decision and promotions fit."""
HISTORY_POINTS = 120
"""Points per sparkline: two minutes at the controller's 1-s cycle."""


class History:
    """Per unit, the last :data:`HISTORY_POINTS` readings of writes/s and the largest
    standby lag, one per controller cycle (:meth:`add` ignores a cycle already added).
    Not thread-safe: the caller holds a lock."""

    def __init__(self, points: int = HISTORY_POINTS) -> None:
        self._points = points
        self._cycle = -1
        self._writes: dict[str, deque[float | None]] = {}
        self._lag: dict[str, deque[float | None]] = {}

    def add(
        self,
        cycle: int,
        writes_per_second: Mapping[str, float | None],
        lag_entries: Mapping[str, float | None],
    ) -> bool:
        """Add one cycle's readings (None: no reading); False if ``cycle`` is not newer."""
        if cycle <= self._cycle:
            return False
        self._cycle = cycle
        for series, readings in ((self._writes, writes_per_second), (self._lag, lag_entries)):
            for unit, value in readings.items():
                series.setdefault(unit, deque(maxlen=self._points)).append(value)
        return True

    def sparklines(self, unit: str) -> dict[str, list[float | None]]:
        return {
            "writes_per_second": list(self._writes.get(unit, ())),
            "lag_entries": list(self._lag.get(unit, ())),
        }


def largest_lag(unit_status: Mapping[str, Any]) -> float | None:
    """The largest ``lag_entries`` among a unit's standbys in a status object (None when
    no standby reports one)."""
    lags = [
        s.get("lag_entries")
        for s in (unit_status.get("standbys") or {}).values()
        if isinstance(s, Mapping)
    ]
    known = [float(v) for v in lags if isinstance(v, int | float)]
    return max(known) if known else None


def build_view(
    status: Mapping[str, Any],
    topology: Topology,
    events: Iterable[Event],
    history: History,
    wall_now: float,
) -> dict[str, Any]:
    """The console view (module docstring) of one controller's ``status`` and ``events``
    (any order; the newest :data:`TIMELINE_LENGTH` are kept)."""
    warnings = list(status.get("trend_warnings") or [])
    return {
        "at": wall_now,
        "controller": status.get("controller"),
        "leader": status.get("leader"),
        "is_leader": bool(status.get("is_leader")),
        "leader_url": status.get("leader_url"),
        "summary": status.get("summary") or "",
        "frozen": bool(status.get("frozen")),
        "sites": _sites(status.get("sites") or {}, topology),
        "units": _units(status.get("units") or {}, topology, warnings, history),
        "approvals": list(status.get("approvals") or []),
        "site_warnings": [w for w in warnings if w.get("unit") is None],
        "timeline": _timeline(events),
        "timeline_source": "controller-events",
    }


def _sites(verdicts: Mapping[str, Any], topology: Topology) -> list[dict[str, Any]]:
    out = []
    for site in topology.sites:
        verdict = verdicts.get(site.name) or {}
        out.append(
            {
                "name": site.name,
                "city": site.city,
                "role": str(site.role),
                "state": verdict.get("state") or "unknown",
                "reason": verdict.get("reason") or "",
                "observers": dict(verdict.get("observers") or {}),
            }
        )
    return out


def _units(
    units: Mapping[str, Any],
    topology: Topology,
    warnings: Sequence[Mapping[str, Any]],
    history: History,
) -> list[dict[str, Any]]:
    out = []
    for name in topology.units:
        placed = topology.placement(name).primary
        unit = units.get(name) or {}
        primary = unit.get("primary_site")
        reported = unit.get("standbys") or {}
        standbys = [
            {
                "site": site,
                "lag_entries": (reported.get(site) or {}).get("lag_entries"),
                "healthy": (reported.get(site) or {}).get("healthy"),
            }
            for site in (topology.standbys_of(primary) if primary else ())
        ]
        out.append(
            {
                "name": name,
                "placement_primary": placed,
                "primary_site": primary,
                "epoch": unit.get("epoch"),
                "moved": primary is not None and primary != placed,
                "standbys": standbys,
                "durable_lsn": unit.get("durable_lsn"),
                "acknowledged_lsn": unit.get("acknowledged_lsn"),
                "warnings": [w for w in warnings if w.get("unit") == name],
                "sparklines": history.sparklines(name),
            }
        )
    return out


def _timeline(events: Iterable[Event]) -> list[dict[str, Any]]:
    newest = sorted(events, key=lambda e: e.id, reverse=True)[:TIMELINE_LENGTH]
    return [
        {"id": e.id, "at": e.at, "kind": e.kind, "unit": e.unit, "site": e.site,
         "summary": e.summary}
        for e in newest
    ]  # fmt: skip
