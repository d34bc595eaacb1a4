"""Pure: re-promote in place a primary that still says ``primary`` but lost its lease key.

The unit service fences itself lazily (on its next write) once its lease lapsed, e.g.
after an etcd leader election longer than TTL − margin; until then its ``/v1/unit`` still
says ``primary``. It cannot write (every write checks the lease), and it never takes the
lease back at the same epoch, so without help the unit has no writer. When the route's
instance says primary at the route's epoch, is reached by a quorum of observers and by
this controller's own site's observer in its latest round, and
``leases/primary/<unit>`` has been absent for ``ROUNDS_NEEDED`` consecutive cycles, it
gets epoch + 1 where it is — the decision's re-promotion in place (loss-free: the same
instance wrote every entry of the epoch).
"""

from __future__ import annotations

from collections.abc import Mapping

from failover.actions import PromoteUnit
from failover.quorum import instance_verdict
from failover.snapshot import Role, Snapshot

#: Consecutive cycles without a lease key before acting: one cycle can race a promotion,
#: and a dead site's last observer report stays fresh for 2.5 s (two cycles).
ROUNDS_NEEDED = 3


def lapsed_primaries(snapshot: Snapshot) -> set[str]:
    """Units whose route's instance says primary at the route's epoch with no lease key."""
    found = set()
    for unit, route in snapshot.routes.items():
        state = snapshot.instance(unit, route.site)
        seen = instance_verdict(
            unit, route.site, snapshot.observer_reports, snapshot.now, snapshot.topology
        )
        own = snapshot.observer_reports.get(snapshot.controller)
        if (
            unit not in snapshot.leases
            and state.reachable
            and seen.reachable_by_quorum
            and own is not None
            and own.instance_failures.get((unit, route.site)) == 0
            and state.role is Role.PRIMARY
            and state.epoch == route.epoch
        ):
            found.add(unit)
    return found


def next_lapse_counts(previous: Mapping[str, int], lapsed: set[str]) -> dict[str, int]:
    return {unit: previous.get(unit, 0) + 1 for unit in lapsed}


def plan_lapsed(
    snapshot: Snapshot, counts: Mapping[str, int], busy: frozenset[str]
) -> list[PromoteUnit]:
    """Re-promotions for units seen lapsed for ``ROUNDS_NEEDED`` cycles (not in ``busy``)."""
    actions = []
    for unit, seen in sorted(counts.items()):
        route = snapshot.routes.get(unit)
        if unit in busy or route is None or seen < ROUNDS_NEEDED:
            continue
        reason = (
            f"re-promoting {unit} in {route.site} at epoch {route.epoch + 1}: its primary "
            f"lost its lease key {seen} cycles ago and can no longer write"
        )
        actions.append(PromoteUnit.in_place(unit, route.site, route.epoch, reason))
    return actions
