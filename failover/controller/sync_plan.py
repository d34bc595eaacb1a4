"""Pure: when to run a healthy primary without its synchronous standby, and when to stop.

What the pure failover decision lacks for a real site outage. A primary acknowledges a
write only after its sync standby applied it; if the standby's *site* is down, every
write answers 503 for as long as the site stays down. So:

- **degrade**: the unit's primary answers at the route's epoch, names a sync standby,
  and that standby's site is DOWN by quorum, or its instance alone is DEAD by quorum (a
  crashed standby process would otherwise stop the unit's writes until it is restarted)
  → reconfigure the primary with
  ``sync_standby: null`` (the standby stays an async target). The adapter records
  ``sync_degraded`` for the epoch *before* sending it (docs/controller.md §1), so any
  later failover of the unit counts as data-losing until the standby has caught up.
- **restore**: the primary runs without a sync standby, its natural sync standby (the
  other site of its city) is UP, answers as a standby of this epoch, and its lag is at
  most one async batch → make it the sync standby again.

One observer's view never degrades anyone: only a quorum verdict (DOWN) does, so a
city-A partition (both sites SUSPECT) changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from failover.controller.builder import PrimaryView
from failover.quorum import SiteState, SiteVerdict, instance_verdict
from failover.snapshot import Role, Snapshot
from failover.topology import Topology


@dataclass(frozen=True, slots=True)
class ReconfigureSync:
    """Re-send ``primary`` at the same epoch to ``unit`` in ``site`` with new standbys."""

    kind = "reconfigure_sync"

    unit: str
    site: str
    epoch: int
    sync_standby: str | None
    async_standbys: tuple[str, ...]
    reason: str


def natural_sync(topology: Topology, primary_site: str) -> str | None:
    """The other site of the primary's city (the synchronous standby), if any."""
    for site in topology.site_names:
        if site != primary_site and topology.same_city(site, primary_site):
            return site
    return None


def standbys_for(
    topology: Topology, primary_site: str, sync: str | None
) -> tuple[str | None, tuple[str, ...]]:
    """``(sync, async)`` for a primary in ``primary_site``: every other site is a standby."""
    others = tuple(s for s in topology.site_names if s not in (primary_site, sync))
    return sync, others


def plan_sync(
    snapshot: Snapshot,
    sites: Mapping[str, SiteVerdict],
    primaries: Mapping[str, PrimaryView],
    busy: frozenset[str] = frozenset(),
) -> list[ReconfigureSync]:
    """Degrade/restore actions for units not in ``busy`` (being moved this cycle)."""
    actions = []
    for unit, view in primaries.items():
        if unit in busy or snapshot.routes.get(unit) is None:
            continue
        action = _degrade(view, sites, snapshot) or _restore(view, sites, snapshot)
        if action is not None:
            actions.append(action)
    return actions


def _degrade(
    view: PrimaryView, sites: Mapping[str, SiteVerdict], snapshot: Snapshot
) -> ReconfigureSync | None:
    sync = view.sync_standby
    if sync is None or sync not in sites:
        return None
    topology = snapshot.topology
    if sites[sync].down:
        why = sites[sync].reason
    else:
        standby = instance_verdict(
            view.unit, sync, snapshot.observer_reports, snapshot.now, topology
        )  # fmt: skip
        if not standby.dead:
            return None
        why = standby.reason
    _, others = standbys_for(topology, view.site, None)
    reason = f"degrading {view.unit} in {view.site} to no sync standby at epoch {view.epoch}: {why}"
    return ReconfigureSync(view.unit, view.site, view.epoch, None, others, reason)


def _restore(
    view: PrimaryView, sites: Mapping[str, SiteVerdict], snapshot: Snapshot
) -> ReconfigureSync | None:
    topology = snapshot.topology
    target = natural_sync(topology, view.site)
    if view.sync_standby is not None or target is None or target not in sites:
        return None
    if sites[target].state is not SiteState.UP:
        return None
    state = snapshot.instance(view.unit, target)
    if not state.reachable or state.role is not Role.STANDBY or state.epoch != view.epoch:
        return None
    lag = view.standbys.get(target, {}).get("lag_entries")
    if not isinstance(lag, int) or lag > topology.replication.async_batch_size:
        return None
    sync, others = standbys_for(topology, view.site, target)
    reason = (
        f"restoring {target} as the sync standby of {view.unit} at epoch {view.epoch}: "
        f"{target} is up and {lag} entries behind"
    )
    return ReconfigureSync(view.unit, view.site, view.epoch, sync, others, reason)
