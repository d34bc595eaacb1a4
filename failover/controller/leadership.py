"""The leader lease: exactly one controller acts, and it stops acting at once when unsure.

``leader`` = ``{"id", "site", "url"}`` on an etcd lease of
``timing.controller_lease_ttl_seconds``. The fence rule is the primaries' (docs/design.md §3.1):
the lease is *valid* only until ``sent + TTL − fence_margin``, where ``sent`` is when the
last successful keepalive (or the grant) was sent — never later than etcd's own expiry,
whatever the network delays. Once past it, nothing is done until a keepalive succeeds
again (or a new election is won). :meth:`LeaderLease.tick` runs on its own thread every
TTL/3 s, so a long cycle never starves the keepalive.

**Where the leader lives.** The controller in the witness site (the remote-dr site,
docs/design.md §3.4) campaigns as soon as ``leader`` is free; the others only once they have seen
it free for ``campaign_delay`` seconds. So the leader normally sits outside city A, and
the outage of a city-A site — the fault we rehearse most — costs no leader handover on
top of the detection (drills measured ~1 s for it). The delay only ever postpones a
campaign; it never takes a lease from a leader, so it cannot make two leaders.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from failover.dcs import Compare, Dcs, DcsError, Keys, LeaseNotFound, Put
from failover.dcs.codec import canonical_json
from failover.topology import Timing

LOG = logging.getLogger("failover.controller.leadership")


@dataclass(frozen=True, slots=True)
class LeaderInfo:
    id: str
    site: str
    url: str


class LeaderLease:
    """Campaign for and keep ``leader``; :meth:`valid` is the fence every action checks."""

    def __init__(
        self,
        dcs: Dcs,
        keys: Keys,
        me: LeaderInfo,
        timing: Timing,
        clock: Callable[[], float] = time.monotonic,
        campaign_delay: float = 0.0,
    ) -> None:
        self._dcs, self._key, self.me, self._timing, self._clock = (
            dcs,
            keys.leader,
            me,
            timing,
            clock,
        )
        self._lock = threading.Lock()
        self._lease: int | None = None
        self._deadline = 0.0
        self._holder: LeaderInfo | None = None
        self._stop = threading.Event()
        self._campaign_delay = campaign_delay
        self._free_since: float | None = None

    def valid(self) -> bool:
        """True while this controller may act (holds the lease, before its fence point)."""
        with self._lock:
            return self._lease is not None and self._clock() < self._deadline

    @property
    def holder(self) -> LeaderInfo | None:
        """The leader as last seen (ourselves while valid)."""
        with self._lock:
            return self._holder

    def tick(self) -> None:
        """Keep our lease alive, or campaign when nobody holds ``leader``. Never raises."""
        try:
            if self._lease is not None:
                self._keepalive(self._lease)
            if self._lease is None:
                self._campaign()
        except DcsError as exc:
            LOG.warning("leader lease: %s", exc)

    def _keepalive(self, lease: int) -> None:
        sent = self._clock()
        try:
            ttl = self._dcs.keepalive(lease)
        except LeaseNotFound:
            LOG.warning("%s lost the leader lease", self.me.id)
            with self._lock:
                self._lease, self._holder = None, None
            return
        with self._lock:
            self._deadline = sent + min(ttl, self._ttl) - self._timing.fence_margin_seconds

    @property
    def _ttl(self) -> int:
        return max(1, round(self._timing.controller_lease_ttl_seconds))

    def _campaign(self) -> None:
        if not self._waited_long_enough():
            return
        sent = self._clock()
        grant = self._dcs.grant(self._ttl)
        value = canonical_json({"id": self.me.id, "site": self.me.site, "url": self.me.url})
        result = self._dcs.txn([Compare.absent(self._key)], [Put(self._key, value, grant.id)])
        if result.succeeded:
            LOG.info("%s is now the leader", self.me.id)
            with self._lock:
                self._lease, self._holder = grant.id, self.me
                self._deadline = sent + self._ttl - self._timing.fence_margin_seconds
            return
        self._dcs.revoke(grant.id)
        current = self._dcs.get(self._key)
        with self._lock:
            self._holder = _decode(current.value) if current is not None else None

    def _waited_long_enough(self) -> bool:
        """True once ``leader`` has been seen free for ``campaign_delay`` seconds."""
        if self._campaign_delay <= 0:
            return True
        current = self._dcs.get(self._key)
        now = self._clock()
        if current is not None:
            self._free_since = None
            with self._lock:
                self._holder = _decode(current.value)
            return False
        if self._free_since is None:
            self._free_since = now
        return now - self._free_since >= self._campaign_delay

    def resign(self) -> None:
        """Give the lease up (clean shutdown), so another controller need not wait a TTL."""
        with self._lock:
            lease, self._lease, self._holder = self._lease, None, None
        if lease is not None:
            try:
                self._dcs.revoke(lease)
            except DcsError as exc:
                LOG.warning("could not revoke the leader lease: %s", exc)

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self._loop, name="leader-lease", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        period = max(0.2, self._timing.controller_lease_ttl_seconds / 3)
        while not self._stop.is_set():
            self.tick()
            self._stop.wait(period)


def _decode(value: str) -> LeaderInfo | None:
    try:
        data = json.loads(value)
        return LeaderInfo(
            str(data["id"]), str(data.get("site", data["id"])), str(data.get("url", ""))
        )
    except (ValueError, KeyError, TypeError):
        return None
