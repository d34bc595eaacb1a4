"""The per-cycle snapshot: everything the decision may look at, frozen.

Adapters build one :class:`Snapshot` per controller cycle from etcd, the observers'
reports, the unit instances' own endpoints and the records store; the pure functions in
:mod:`failover.quorum` and :mod:`failover.plan` read it and nothing else. Nothing
here reads a clock: every time is a number of seconds on *one* clock chosen by the
builder (the controller's monotonic clock), including the times of records that were
stored as wall-clock times — the builder converts them.

Mappings inside the snapshot are treated as read-only; wrap them in
``types.MappingProxyType`` if the builder keeps a reference to the originals.

Where each part comes from (etcd key layout of ``failover.dcs``):

- ``routes``: ``routes/<unit>`` → ``{site, epoch}``.
- ``leases``: ``leases/primary/<unit>`` → ``{site, epoch}``, attached to the primary's
  lease; absent means no instance holds the right to accept writes.
- ``observer_reports``: the observers' health keys (one per site, written every round).
- ``instances``: each unit instance's role/epoch/journal endpoint as last seen.
- ``replication``: the acknowledged-LSN high-water mark per unit (see
  :class:`UnitReplication`).
- ``approvals``, ``failovers``, ``in_flight``: the records store.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from failover.topology import Topology


class Role(StrEnum):
    """A unit instance's role as it reports it on its own endpoint."""

    PRIMARY = "primary"
    STANDBY = "standby"
    FENCED = "fenced"


@dataclass(frozen=True, slots=True)
class Route:
    """Where a unit's writes go: ``routes/<unit>``. The epoch is the unit's fencing token."""

    site: str
    epoch: int


@dataclass(frozen=True, slots=True)
class LeaseHolder:
    """Who holds ``leases/primary/<unit>``: that instance may still accept writes."""

    site: str
    epoch: int


@dataclass(frozen=True, slots=True)
class ObserverReport:
    """What the observer in site ``observer`` could reach, as of ``reported_at``.

    Counters are *consecutive failed rounds* up to its latest round: 0 means it reached
    the target in its latest round; a missing key means it did not probe that target
    (no information, never counted as a failure). A probe that times out — a hung
    process accepts TCP and never answers — is a failed round like a refused one.

    - ``site_failures[site]``: rounds the observer could not reach ``site`` (its etcd
      member and router).
    - ``instance_failures[(unit, site)]``: rounds it could not reach that unit instance.
    """

    observer: str
    reported_at: float
    site_failures: Mapping[str, int]
    instance_failures: Mapping[tuple[str, str], int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class InstanceState:
    """A unit instance as last seen on its own endpoint (``reachable=False``: no answer).

    ``applied_lsn`` is the last journal position it has applied (a primary: written)
    and ``last_entry_epoch`` the epoch that wrote that entry. LSNs of a unit only grow,
    across epochs too: a promoted standby continues the journal. Copies rank by
    :attr:`position` (docs/design.md §3).
    """

    reachable: bool
    role: Role | None = None
    epoch: int | None = None
    applied_lsn: int | None = None
    last_entry_epoch: int | None = None

    @property
    def position(self) -> tuple[int, int] | None:
        """``(last entry epoch, last lsn)`` if the instance answered with both, else None."""
        if not self.reachable or self.applied_lsn is None or self.last_entry_epoch is None:
            return None
        return (self.last_entry_epoch, self.applied_lsn)


@dataclass(frozen=True, slots=True)
class UnitReplication:
    """What the controller knows about a unit's acknowledged writes.

    ``acknowledged_lsn``: the highest LSN anyone (observers, controllers) ever saw a
    primary of the unit report durable by the commit rule. Every acknowledged write is at
    or below it; a copy below it certainly lacks one.
    """

    acknowledged_lsn: int
    one_copy: bool = False
    """The current primary was told to acknowledge writes on its own site alone (a
    declared disaster): the other copies may lack acknowledged writes of this epoch."""


@dataclass(frozen=True, slots=True)
class Approval:
    """A person's answer to a data-losing (or remote-dr) promotion request.

    ``granted=False`` is a pending request; ``accepted_loss`` is then the loss estimated
    when it was asked, and for a granted one the loss the approver accepted. An approval
    is bound to ``expected_epoch``: once the unit moves, it no longer applies. Only open
    approvals belong in the snapshot (not used, not rejected, not expired).
    """

    id: str
    unit: str
    to_site: str
    expected_epoch: int
    accepted_loss: int
    granted: bool


@dataclass(frozen=True, slots=True)
class FailoverRecord:
    """A promotion that happened, at ``at`` seconds on the snapshot's clock (rate limit)."""

    unit: str
    at: float
    from_site: str
    to_site: str
    epoch: int


@dataclass(frozen=True, slots=True)
class InFlightPromotion:
    """A promotion the records say was started and not yet finished (a crash left it).

    The promotion's etcd transaction moves ``routes/<unit>`` from
    ``(from_site, expected_epoch)`` to ``(to_site, new_epoch)`` atomically, so the route
    alone tells whether it committed.
    """

    operation_id: str
    unit: str
    from_site: str
    to_site: str
    expected_epoch: int
    new_epoch: int
    started_at: float


@dataclass(frozen=True)
class Snapshot:
    """Everything one controller cycle knows. Built once per cycle; never mutated.

    Keys: ``observer_reports`` by observer site; ``routes``, ``leases``, ``replication``
    by unit; ``instances`` by ``(unit, site)``. A unit missing from ``routes`` is not
    acted on (reported as an anomaly); a unit missing from ``replication`` has an
    unknown acknowledged position, so no promotion of it counts as loss-free.
    """

    topology: Topology
    now: float
    controller: str
    leader: str | None
    observer_reports: Mapping[str, ObserverReport]
    routes: Mapping[str, Route]
    leases: Mapping[str, LeaseHolder]
    instances: Mapping[tuple[str, str], InstanceState]
    replication: Mapping[str, UnitReplication]
    approvals: tuple[Approval, ...] = ()
    failovers: tuple[FailoverRecord, ...] = ()
    in_flight: tuple[InFlightPromotion, ...] = ()
    frozen: bool = False
    lapsed_cycles: Mapping[str, int] = field(default_factory=dict)
    """What the controller remembers: per unit, consecutive earlier cycles in which its
    routed primary said ``primary`` with no lease key (see :mod:`failover.plan.repair`)."""
    acting: frozenset[str] = frozenset()
    """Units whose steps from an earlier cycle of this controller are still running
    (failover/controller/unit_steps.py): decided for by nobody until they end."""

    def instance(self, unit: str, site: str) -> InstanceState:
        """The observed state of ``unit`` in ``site``; never seen counts as unreachable."""
        return self.instances.get((unit, site), InstanceState(reachable=False))


def steady_state(topology: Topology, *, now: float = 1000.0, controller: str = "") -> Snapshot:
    """A healthy system at epoch 1: every route and lease at its placement's primary,
    every instance reachable at LSN 0, every observer fresh and reaching everything.

    The baseline for tests and dry runs; derive scenarios with ``dataclasses.replace``.
    ``controller`` defaults to the first site's name, which is also the leader.
    """
    me = controller or topology.site_names[0]
    reach_all = {
        site: ObserverReport(
            observer=site,
            reported_at=now,
            site_failures=dict.fromkeys(topology.site_names, 0),
            instance_failures={(u, s): 0 for u in topology.units for s in topology.site_names},
        )
        for site in topology.site_names
    }
    instances = {
        (unit, site): InstanceState(
            reachable=True,
            role=Role.PRIMARY if site == topology.placement(unit).primary else Role.STANDBY,
            epoch=1,
            applied_lsn=0,
            last_entry_epoch=0,
        )
        for unit in topology.units
        for site in topology.site_names
    }
    primaries = {unit: topology.placement(unit).primary for unit in topology.units}
    return Snapshot(
        topology=topology,
        now=now,
        controller=me,
        leader=me,
        observer_reports=reach_all,
        routes={unit: Route(site, 1) for unit, site in primaries.items()},
        leases={unit: LeaseHolder(site, 1) for unit, site in primaries.items()},
        instances=instances,
        replication={unit: UnitReplication(acknowledged_lsn=0) for unit in topology.units},
    )
