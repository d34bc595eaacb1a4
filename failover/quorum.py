"""Quorum verdicts: is a site down, is one unit instance dead? Pure; reads only reports.

**Sites.** A site is DOWN only when at least ``required`` *voters* each failed to reach
it for ``timing.failure_rounds`` consecutive rounds or more. Voters are the observers
whose report is fresh (see :func:`stale_after_seconds`) and who are **not inside the
site**: an observer inside a dead site cannot report at all, and one inside a site cut
off from the others still reaches its own site over its local network, which says
nothing about whether anyone else can. So ``required = min(timing.quorum, sites - 1)``:
with three sites and the default quorum of 2, *both other sites* must agree. A stale
observer counts neither way. One observer's view never makes a site DOWN.

The other states say why a site is not DOWN, so the controller can tell people:

- ``UP``: every voter reached it in its latest round (at least one voter is fresh).
- ``SUSPECT``: some voter cannot reach it now, but no quorum for DOWN (a partition
  between the city-A sites, or fewer than ``failure_rounds`` failed rounds).
- ``UNCONFIRMED``: every voter that still reports saw it down for ``failure_rounds``,
  but too few voters report to make a quorum (both city-A sites lost: only remote-dr
  reports). Only a person may act on that.
- ``UNKNOWN``: no voter reports at all.

**Instances.** A unit instance is DEAD when ``timing.quorum`` fresh observers (here the
observer in the instance's own site votes too: an instance is not a site, and a local
observer that cannot reach a local process is real evidence) failed to reach it for
``failure_rounds`` rounds. It is *reachable by quorum* when ``timing.quorum`` fresh
observers reached it in their latest round.

Verdicts are monotone: raising any failure counter never makes a site or an instance
less failed (see :data:`SEVERITY`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from failover.snapshot import ObserverReport, Snapshot
from failover.topology import Timing, Topology

#: Reports older than this many probe intervals (plus one probe timeout) are stale:
#: one missed write is tolerated, two are not.
STALE_AFTER_INTERVALS = 2


class SiteState(StrEnum):
    UP = "up"
    SUSPECT = "suspect"
    UNCONFIRMED = "unconfirmed"
    DOWN = "down"
    UNKNOWN = "unknown"


class InstanceHealth(StrEnum):
    ALIVE = "alive"
    SUSPECT = "suspect"
    DEAD = "dead"
    UNKNOWN = "unknown"


#: How failed each state is, for ordering and the monotonicity property. ``UNKNOWN``
#: depends only on freshness, not on failure counts, so it has no rank.
SEVERITY: Mapping[SiteState | InstanceHealth, int] = {
    SiteState.UP: 0,
    SiteState.SUSPECT: 1,
    SiteState.UNCONFIRMED: 2,
    SiteState.DOWN: 3,
    InstanceHealth.ALIVE: 0,
    InstanceHealth.SUSPECT: 1,
    InstanceHealth.DEAD: 3,
}


@dataclass(frozen=True, slots=True)
class SiteVerdict:
    """The quorum's view of one site, with who said what.

    ``voters``: fresh observers outside the site that reported on it. ``failing``: voters
    that failed to reach it for ``failure_rounds`` or more. ``unreachable``: voters that
    failed in their latest round (any count). ``rounds``: consecutive failed rounds the
    failing voters agree on (their minimum), 0 when none fail. ``observers``: the number
    of observers in the topology (the ``3`` of "2/3").
    """

    site: str
    state: SiteState
    voters: tuple[str, ...]
    failing: tuple[str, ...]
    unreachable: tuple[str, ...]
    rounds: int
    required: int
    observers: int
    reason: str

    @property
    def down(self) -> bool:
        return self.state is SiteState.DOWN


@dataclass(frozen=True, slots=True)
class InstanceVerdict:
    """The quorum's view of one unit instance (``unit`` in ``site``); fields as above,
    plus ``reached``: voters that reached it in their latest round."""

    unit: str
    site: str
    health: InstanceHealth
    voters: tuple[str, ...]
    failing: tuple[str, ...]
    reached: tuple[str, ...]
    rounds: int
    required: int
    observers: int
    reason: str

    @property
    def dead(self) -> bool:
        return self.health is InstanceHealth.DEAD

    @property
    def reachable_by_quorum(self) -> bool:
        return len(self.reached) >= self.required

    @property
    def reached_by_every_voter(self) -> bool:
        """At least one fresh observer reports on it and every one of them reached it."""
        return bool(self.voters) and len(self.reached) == len(self.voters)


def stale_after_seconds(timing: Timing) -> float:
    """Age beyond which an observer's report no longer votes."""
    return STALE_AFTER_INTERVALS * timing.probe_interval_seconds + timing.probe_timeout_seconds


def fresh_observers(
    reports: Mapping[str, ObserverReport], now: float, topology: Topology
) -> tuple[str, ...]:
    """Observer sites whose report is recent enough to vote, in topology order."""
    limit = stale_after_seconds(topology.timing)
    return tuple(
        site
        for site in topology.site_names
        if (report := reports.get(site)) is not None and now - report.reported_at <= limit
    )


def site_votes_required(topology: Topology) -> int:
    """Votes needed to declare a site down: the quorum, capped by the voters that exist."""
    return min(topology.timing.quorum, len(topology.sites) - 1)


def site_verdict(
    site: str, reports: Mapping[str, ObserverReport], now: float, topology: Topology
) -> SiteVerdict:
    """The verdict on ``site`` from the fresh reports of the observers outside it."""
    counts = {
        observer: count
        for observer in fresh_observers(reports, now, topology)
        if observer != site and (count := reports[observer].site_failures.get(site)) is not None
    }
    rounds_needed = topology.timing.failure_rounds
    voters = tuple(counts)
    failing = tuple(o for o, c in counts.items() if c >= rounds_needed)
    unreachable = tuple(o for o, c in counts.items() if c > 0)
    required = site_votes_required(topology)
    rounds = min((counts[o] for o in failing), default=0)
    state = _site_state(voters, failing, unreachable, required)
    reason = _site_reason(
        site,
        state=state,
        counts=counts,
        failing=failing,
        rounds=rounds,
        required=required,
        topology=topology,
    )
    return SiteVerdict(
        site, state, voters, failing, unreachable, rounds, required, len(topology.sites), reason
    )


def site_verdicts(snapshot: Snapshot) -> dict[str, SiteVerdict]:
    """Verdicts for every site of the snapshot's topology, in topology order."""
    topology = snapshot.topology
    return {
        site: site_verdict(site, snapshot.observer_reports, snapshot.now, topology)
        for site in topology.site_names
    }


def _site_state(
    voters: tuple[str, ...], failing: tuple[str, ...], unreachable: tuple[str, ...], required: int
) -> SiteState:
    if len(failing) >= required:
        return SiteState.DOWN
    if not voters:
        return SiteState.UNKNOWN
    if len(failing) == len(voters):
        return SiteState.UNCONFIRMED
    if unreachable:
        return SiteState.SUSPECT
    return SiteState.UP


def _site_reason(
    site: str,
    *,
    state: SiteState,
    counts: Mapping[str, int],
    failing: tuple[str, ...],
    rounds: int,
    required: int,
    topology: Topology,
) -> str:
    total = len(topology.sites)
    if state is SiteState.DOWN:
        return f"quorum {len(failing)}/{total} saw {site} down for {_rounds(rounds)}"
    if state is SiteState.UNKNOWN:
        return f"{site} unknown: no fresh observer outside it reports on it"
    if state is SiteState.UNCONFIRMED:
        return (
            f"{site} unconfirmed: only {_names(failing)} still reports and saw it down for "
            f"{_rounds(rounds)}, but a quorum needs {required} observers"
        )
    if state is SiteState.SUSPECT:
        seen = ", ".join(f"{o} for {_rounds(c)}" for o, c in counts.items() if c > 0)
        return (
            f"{site} suspect: unreachable from {seen}; down needs {required} observers for "
            f"{_rounds(topology.timing.failure_rounds)}"
        )
    return f"{site} up: reached by {_names(tuple(counts))}"


def instance_verdict(
    unit: str, site: str, reports: Mapping[str, ObserverReport], now: float, topology: Topology
) -> InstanceVerdict:
    """The verdict on ``unit``'s instance in ``site`` from every fresh observer's report."""
    key = (unit, site)
    counts = {
        observer: count
        for observer in fresh_observers(reports, now, topology)
        if (count := reports[observer].instance_failures.get(key)) is not None
    }
    rounds_needed = topology.timing.failure_rounds
    voters = tuple(counts)
    failing = tuple(o for o, c in counts.items() if c >= rounds_needed)
    reached = tuple(o for o, c in counts.items() if c == 0)
    required = min(topology.timing.quorum, len(topology.sites))
    rounds = min((counts[o] for o in failing), default=0)
    total = len(topology.sites)
    if len(failing) >= required:
        health = InstanceHealth.DEAD
        reason = (
            f"quorum {len(failing)}/{total} could not reach the {unit} instance in {site} "
            f"for {_rounds(rounds)}"
        )
    elif not voters:
        health, reason = InstanceHealth.UNKNOWN, f"no fresh observer reports on {unit} in {site}"
    elif len(reached) < len(voters):
        health = InstanceHealth.SUSPECT
        reason = f"{unit} in {site} reached by {len(reached)}/{total} observers"
    else:
        health, reason = InstanceHealth.ALIVE, f"{unit} in {site} reached by {_names(reached)}"
    return InstanceVerdict(
        unit, site, health, voters, failing, reached, rounds, required, total, reason
    )


def _rounds(count: int) -> str:
    return f"{count} round" if count == 1 else f"{count} rounds"


def _names(observers: tuple[str, ...]) -> str:
    return ", ".join(observers) if observers else "none"
