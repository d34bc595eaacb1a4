"""The real primary lease: a key in etcd on a lease that a background thread keeps alive.

Contract (docs/design.md §3.1, :class:`app.lease.PrimaryLease`):

- ``acquire(unit, site, epoch)`` grants an etcd lease of ``timing.primary_lease_ttl_seconds``
  and, in one transaction, puts ``/watertight/<topology>/leases/primary/<unit>`` =
  ``{"epoch", "site"}`` on it — only if that key is absent *and* the unit's route
  (``routes/<unit>``) still says this site and epoch (or no route exists yet). So a stale
  primary cannot take the lease after the controller has moved the route.
- ``valid()`` is true until ``sent + TTL − fence_margin``, where ``sent`` is when the last
  *successful* keepalive (or the grant) was **sent**. etcd restarts the lease's TTL when
  it processes the request, which is after we sent it; counting from the send is therefore
  never later than etcd's own expiry, whatever the network delays. Counting from the
  answer would not be: a reply delayed by one second would stretch our deadline past the
  key's expiry on the etcd side, and the controller could promote another primary while
  this one still accepts writes. The margin covers clock-rate drift and the time between
  the ``valid()`` check and the commit.
- Once past the deadline the lease stays invalid (a late answer cannot revive it): the
  unit service fences and needs a new role assignment, which calls ``acquire`` again.
- Restart with the key still held by *the same site and epoch* (the previous process of
  this instance died without revoking): ``acquire`` waits up to TTL + 1 s for that stale
  key to expire, then takes it. If the holder keeps it alive (a twin process), or the key
  names another site or epoch, :class:`LeaseUnavailable` is raised at once / after the
  wait. Never taking over a live key keeps "at most one primary" even against twins.

All methods are thread-safe. Clock: injected monotonic clock (``time.monotonic``).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from enum import Enum

from app.etcd_client import EtcdClient, EtcdStoreError, LeaseStore, canonical_json
from app.lease import LeaseUnavailable
from app.settings import UnitSettings
from failover.topology import Topology, default_topology, load_topology

log = logging.getLogger(__name__)

#: While no renewal is confirmed, another keepalive is started this often, without
#: waiting for those still in flight.
KEEPALIVE_RETRY_SECONDS = 0.1
#: At most this many keepalives in flight at once (each lives one request timeout).
KEEPALIVE_MAX_IN_FLIGHT = 8


class KeepaliveOutcome(Enum):
    RENEWED = "renewed"
    FAILED = "failed"  # not confirmed, still valid until the deadline
    LAPSED = "lapsed"  # past the deadline or gone on etcd: fenced until a new assignment


Clock = Callable[[], float]


@dataclass
class FenceDeadline:
    """Pure deadline bookkeeping on a monotonic clock (seconds)."""

    ttl: float
    margin: float
    deadline: float | None = None
    lapsed: bool = False

    def start(self, sent_at: float) -> None:
        self.deadline = sent_at + self.ttl - self.margin
        self.lapsed = False

    def valid(self, now: float) -> bool:
        if self.lapsed or self.deadline is None:
            return False
        if now >= self.deadline:
            self.lapsed = True
            return False
        return True

    def renewed(self, sent_at: float, now: float, ttl: float | None = None) -> None:
        """A keepalive sent at ``sent_at`` succeeded (answer seen at ``now``). Extends the
        deadline unless it had already passed — then the lease stays lapsed."""
        if not self.valid(now):
            return
        assert self.deadline is not None
        effective = self.ttl if ttl is None else min(self.ttl, ttl)
        self.deadline = max(self.deadline, sent_at + effective - self.margin)

    def lapse(self) -> None:
        self.lapsed = True


def _topology(settings: UnitSettings) -> Topology:
    return load_topology(settings.topology) if settings.topology else default_topology()


class EtcdPrimaryLease:
    """:class:`app.lease.PrimaryLease` backed by etcd (see the module docstring)."""

    def __init__(
        self,
        settings: UnitSettings,
        *,
        clock: Clock = time.monotonic,
        store: LeaseStore | None = None,
        background: bool = True,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        topology = _topology(settings)
        self.ttl = topology.timing.primary_lease_ttl_seconds
        self.margin = topology.timing.fence_margin_seconds
        self.interval = self.ttl / 6.0
        self._root = f"/watertight/{topology.name}/"
        self._store = store or EtcdClient(settings.etcd_endpoints, timeout=self.interval)
        self._clock = clock
        self._background = background
        self._sleep = sleep
        self._lock = threading.RLock()  # guards the state below; never held across I/O
        self._ops = threading.Lock()  # serializes acquire/release
        self._deadline = FenceDeadline(self.ttl, self.margin)
        self._lease_id: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def key(self, unit: str) -> str:
        return f"{self._root}leases/primary/{unit}"

    def route_key(self, unit: str) -> str:
        return f"{self._root}routes/{unit}"

    @property
    def lease_id(self) -> int | None:
        return self._lease_id

    # -- the PrimaryLease contract ---------------------------------------------------------

    def acquire(self, unit: str, site: str, epoch: int) -> None:
        with self._ops:  # network calls outside ``_lock``: valid() never waits on etcd
            self._drop()
            value = canonical_json({"site": site, "epoch": epoch})
            try:
                route = self._checked_route(unit, site, epoch)
                self._wait_for_stale_key(self.key(unit), value)
                sent = self._clock()
                lease_id, granted = self._store.grant(self.ttl)
                if not self._claim(unit, value, lease_id, route):
                    self._store.revoke(lease_id)
                    holder = self._store.get(self.key(unit))
                    raise LeaseUnavailable(
                        f"primary lease of {unit} is held by {holder[0] if holder else '?'} "
                        "or its route changed; this instance stays standby"
                    )
            except EtcdStoreError as exc:
                raise LeaseUnavailable(f"etcd unreachable, cannot take the lease: {exc}") from exc
            with self._lock:
                self._lease_id = lease_id
                self._deadline = FenceDeadline(min(self.ttl, granted), self.margin)
                self._deadline.start(sent)
            log.info("primary lease of %s taken as %s (lease %x)", unit, value, lease_id)
            if self._background:
                self._start_keepalive()

    def valid(self) -> bool:
        with self._lock:
            return self._deadline.valid(self._clock())

    def release(self) -> None:
        with self._ops:
            self._drop()

    # -- keepalive -------------------------------------------------------------------------

    def keepalive_once(self) -> bool:
        """Send one keepalive; return whether the lease is still valid afterwards."""
        return self._keepalive() is not KeepaliveOutcome.LAPSED

    def _keepalive(self) -> KeepaliveOutcome:
        with self._lock:
            lease_id = self._lease_id
        if lease_id is None:
            return KeepaliveOutcome.LAPSED
        sent = self._clock()
        try:
            ttl = self._store.keepalive(lease_id)
        except EtcdStoreError as exc:
            log.warning("lease keepalive failed (valid until the deadline): %s", exc)
            return KeepaliveOutcome.FAILED if self.valid() else KeepaliveOutcome.LAPSED
        with self._lock:
            if lease_id != self._lease_id:
                return KeepaliveOutcome.LAPSED
            if ttl <= 0:
                log.error("primary lease %x is gone on etcd: fencing", lease_id)
                self._deadline.lapse()
            else:
                self._deadline.renewed(sent, self._clock(), ttl)
            if not self._deadline.valid(self._clock()):
                return KeepaliveOutcome.LAPSED
            return KeepaliveOutcome.RENEWED

    def _start_keepalive(self) -> None:
        self._stop = threading.Event()
        stop = self._stop
        self._thread = threading.Thread(
            target=self._keepalive_loop, args=(stop,), name="primary-lease", daemon=True
        )
        self._thread.start()

    def _keepalive_loop(self, stop: threading.Event) -> None:
        """Renew every ``interval``. While no renewal is confirmed, start another attempt
        every ``KEEPALIVE_RETRY_SECONDS`` *without waiting for those in flight*.

        Why: when etcd's raft leader dies, a member first forwards renewals to the dead
        leader (they hang until their timeout), then holds them until a new leader exists
        and forwards them to it. Waiting for each attempt to time out before sending the
        next left up to one request timeout between the end of the election and the
        first renewal sent after it; under load that ate the whole fence window. With
        attempts overlapping, one sent shortly before the election ended is already held
        by a member and renews from its own send time as soon as the leader exists.
        """
        pool = ThreadPoolExecutor(KEEPALIVE_MAX_IN_FLIGHT, thread_name_prefix="lease-keepalive")
        in_flight: set[Future[KeepaliveOutcome]] = set()
        pause = self.interval
        try:
            while not stop.wait(pause):
                started = self._clock()
                if len(in_flight) < KEEPALIVE_MAX_IN_FLIGHT:
                    in_flight.add(pool.submit(self._keepalive))
                done, _ = wait(in_flight, KEEPALIVE_RETRY_SECONDS, FIRST_COMPLETED)
                in_flight -= done
                outcomes = {future.result() for future in done}
                if KeepaliveOutcome.LAPSED in outcomes:
                    log.error("primary lease lapsed: writes are refused until a new assignment")
                    return
                if KeepaliveOutcome.RENEWED in outcomes:
                    pause = self.interval
                else:
                    spent = self._clock() - started
                    pause = max(0.0, KEEPALIVE_RETRY_SECONDS - spent)
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    # -- helpers ---------------------------------------------------------------------------

    def _checked_route(self, unit: str, site: str, epoch: int) -> str | None:
        found = self._store.get(self.route_key(unit))
        if found is None:
            return None
        try:
            route = json.loads(found[0])
            matches = route.get("site") == site and int(route.get("epoch")) == epoch
        except (ValueError, TypeError, AttributeError):
            matches = False
        if not matches:
            raise LeaseUnavailable(
                f"route of {unit} is {found[0]}, not this instance ({site} at epoch {epoch}); "
                "the controller has moved on: wait for a new role assignment"
            )
        return found[0]

    def _wait_for_stale_key(self, key: str, value: str) -> None:
        deadline = self._clock() + self.ttl + 1.0
        while (holder := self._store.get(key)) is not None:
            if holder[0] != value:
                raise LeaseUnavailable(f"primary lease {key} is held by {holder[0]}")
            if self._clock() > deadline:
                raise LeaseUnavailable(
                    f"primary lease {key} ({value}) is still kept alive by another process "
                    "of this instance; stop it first"
                )
            self._sleep(0.2)

    def _claim(self, unit: str, value: str, lease_id: int, route: str | None) -> bool:
        if self._store.claim(self.key(unit), value, lease_id, self.route_key(unit), route):
            return True
        holder = self._store.get(self.key(unit))  # a retried claim may have landed already
        return holder is not None and holder == (value, lease_id)

    def _drop(self) -> None:
        """Forget the current lease (valid() turns false at once), then revoke it."""
        with self._lock:
            self._stop.set()  # the thread exits at its next tick: its lease is no longer ours
            self._thread = None
            lease_id, self._lease_id = self._lease_id, None
            self._deadline = FenceDeadline(self.ttl, self.margin)
        if lease_id is not None:
            try:
                self._store.revoke(lease_id)
            except EtcdStoreError as exc:
                log.warning("could not revoke lease %x (it will expire): %s", lease_id, exc)
