"""Assemble a :class:`Runtime` from its ports (the process uses etcd/httpx; tests use fakes).

The observer is not part of it: it runs as its own process (:mod:`failover.observer`)."""

from __future__ import annotations

import time
from collections.abc import Callable

from failover.controller.builder import SnapshotBuilder
from failover.controller.cycle import Controller
from failover.controller.executor import Executor
from failover.controller.leadership import LeaderInfo, LeaderLease
from failover.controller.metrics import ControllerMetrics
from failover.controller.planned import PlannedMoves
from failover.controller.records import RecordStore
from failover.controller.runtime import Runtime
from failover.controller.state import ControllerState
from failover.controller.units import AdminPort
from failover.controller.wakeups import CycleWakeups
from failover.credentials import Credentials
from failover.dcs import Dcs, Keys, RouteStore
from failover.observer.addresses import SiteAddresses
from failover.retry import Sleep
from failover.topology import Topology


def assemble(
    *,
    site: str,
    url: str,
    topology: Topology,
    credentials: Credentials,
    addresses: SiteAddresses,
    dcs: Dcs,
    admin: AdminPort,
    records: RecordStore,
    clock: Callable[[], float] = time.monotonic,
    wall_clock: Callable[[], float] = time.time,
    sleep: Sleep = time.sleep,
    campaign_delay: float | None = None,
) -> Runtime:
    """Wire every part; starts no thread. ``campaign_delay`` None: the witness site's
    controller campaigns at once, the others a probe interval later (leadership module
    docstring)."""
    timing, keys = topology.timing, Keys(topology.name)
    state = ControllerState(dcs, keys)
    if campaign_delay is None:
        campaign_delay = 0.0 if site == topology.dr_site else timing.probe_interval_seconds
    me = LeaderInfo(site, site, url)
    leadership = LeaderLease(dcs, keys, me, timing, clock, campaign_delay)

    def leader_id() -> str | None:
        if leadership.valid():
            return site
        holder = leadership.holder
        # Our own lease past its fence point: nobody may be assumed to lead.
        return holder.id if holder and holder.id != site else None

    builder = SnapshotBuilder(topology, dcs, site, leader_id, clock, wall_clock)
    metrics = ControllerMetrics()
    executor = Executor(
        state, RouteStore(dcs, topology.name), admin, records, leadership.valid, site,
        wall_clock, metrics,
    )  # fmt: skip
    controller = Controller(site, builder, executor, state, records, leadership.valid, metrics)
    planned = PlannedMoves(controller, executor, admin, dcs, records, builder.build, sleep, clock)
    wakeups = CycleWakeups(dcs, keys, controller.wake)
    return Runtime(
        site, topology, credentials, addresses, leadership, controller, state,
        records, planned, metrics, wakeups,
    )  # fmt: skip
