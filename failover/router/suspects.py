"""Routes whose primary timed out, and the one request at a time that may probe each
(docs/design.md §5, router).

A primary that accepts connections and never answers (its data center dead behind
blackholed links, or hung) holds every request sent to it for the router's whole read
timeout. Each of those requests also holds one of its client's connections that long:
at 500 writes/s a production outage sent 250 writes/s into four such primaries, two
seconds each, and the load's connections filled with them while the writes of the
units the fault did not touch queued behind (docs/benchmarks.md, twentieth session).

So after a request to a route times out, the route is *suspect*: one request at a time
still goes to it (the probe, which finds out when it answers again); every other request
for the unit is answered 503 with ``Retry-After`` at once, which a client retries with
the same key. A 503 is always safe (the write was not sent). Any answer from the route,
whatever its status, clears the suspicion; so does a new route for the unit (a
promotion: another site or a new epoch), which is not suspect until it times out
itself. Nothing here decides where a unit's writes go: the routes do.

Not thread-safe: the router's requests run on one event loop, and none of these methods
awaits.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from failover.routing import Route


class Admission(enum.Enum):
    """What :meth:`SuspectRoutes.admit` allows a request to do."""

    SEND = "send"
    """The route is not suspect: send as usual."""
    PROBE = "probe"
    """The route is suspect and this request is its one probe: send, then settle."""
    REFUSE = "refuse"
    """The route is suspect and its probe is out: answer 503 without sending."""


@dataclass
class _Suspect:
    route: Route
    probing: bool = False


class SuspectRoutes:
    """The suspect route of each unit (at most one: the unit's current route)."""

    def __init__(self) -> None:
        self._by_unit: dict[str, _Suspect] = {}

    def admit(self, route: Route) -> Admission:
        """May a request go to ``route`` now? A :attr:`Admission.PROBE` must be followed
        by :meth:`settle` with ``probe=True`` (in a ``finally``: a probe cancelled
        mid-way must free its place)."""
        suspect = self._judged(route)
        if suspect is None:
            return Admission.SEND
        if suspect.probing:
            return Admission.REFUSE
        suspect.probing = True
        return Admission.PROBE

    def settle(self, route: Route, *, answered: bool, timed_out: bool, probe: bool) -> None:
        """Record how a request sent to ``route`` ended: ``answered`` (any status) clears
        the suspicion, ``timed_out`` raises it; a probe that ended frees its place."""
        if self._stale(route):
            return
        suspect = self._judged(route)
        if answered:
            self._by_unit.pop(route.unit, None)
            return
        if timed_out and suspect is None:
            suspect = self._by_unit[route.unit] = _Suspect(route)
        if suspect is not None and probe:
            suspect.probing = False

    def _stale(self, route: Route) -> bool:
        """Whether ``route`` is another route of the unit than its suspect one and no
        newer: a request that read the table before the unit moved, which does not
        judge the route the unit has now."""
        suspect = self._by_unit.get(route.unit)
        return suspect is not None and suspect.route != route and route.epoch <= suspect.route.epoch

    def _judged(self, route: Route) -> _Suspect | None:
        """The suspicion ``route`` is under, if any. A route newer than the unit's
        suspect one means the unit moved: the old suspicion is dropped, and the new
        route starts clean."""
        suspect = self._by_unit.get(route.unit)
        if suspect is None or suspect.route == route:
            return suspect
        if route.epoch > suspect.route.epoch:
            del self._by_unit[route.unit]
        return None

    def suspect(self, unit: str) -> Route | None:
        """The unit's suspect route, if it has one."""
        found = self._by_unit.get(unit)
        return found.route if found else None
