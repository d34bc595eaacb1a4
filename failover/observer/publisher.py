"""Publish an observer's report at ``observers/<site>`` on a TTL lease.

The lease lets a dead observer's report vanish by itself (a stale report also stops
voting by age, see :func:`failover.quorum.stale_after_seconds`). The TTL covers a few
rounds so one slow etcd call does not drop the report.
"""

from __future__ import annotations

import logging
import math

from failover.dcs import Dcs, DcsError, Keys, LeaseNotFound
from failover.dcs.errors import DcsUnavailable
from failover.observer.report import PublishedReport
from failover.retry import Sleep, etcd_call_retry
from failover.topology import Timing

LOG = logging.getLogger("failover.observer")

#: Probe intervals a published report outlives its observer.
TTL_INTERVALS = 3


class ReportPublisher:
    """Writes one site's report; re-grants its lease when it expired."""

    def __init__(self, dcs: Dcs, keys: Keys, site: str, timing: Timing, sleep: Sleep) -> None:
        self._dcs, self._key, self._timing, self._sleep = dcs, keys.observer(site), timing, sleep
        self._lease: int | None = None

    @property
    def ttl(self) -> int:
        return max(2, math.ceil(TTL_INTERVALS * self._timing.probe_interval_seconds))

    def publish(self, report: PublishedReport) -> bool:
        """Write ``report``; False (logged) when etcd cannot be reached this round."""
        try:
            for attempt in etcd_call_retry(
                self._timing, sleep=self._sleep, retry_on=(DcsUnavailable,)
            ):
                with attempt:
                    self._put(report.encode())
        except DcsError as exc:
            LOG.warning("observer report not published: %s", exc)
            self._lease = None
            return False
        return True

    def _put(self, value: str) -> None:
        if self._lease is not None:
            try:
                self._dcs.keepalive(self._lease)
            except LeaseNotFound:
                self._lease = None
        if self._lease is None:
            self._lease = self._dcs.grant(self.ttl).id
        self._dcs.put(self._key, value, lease=self._lease)
