"""The observer of one site: probe everything each interval, count, publish.

:meth:`Observer.run_round` is one round (used by tests with fakes); :meth:`Observer.run`
loops every ``timing.probe_interval_seconds``. Observers run as their own process per
site (``python -m failover.observer``), apart from the controller: killing a controller
must not silence its site's vote. Controllers read everything from the published reports,
including each instance's role, epoch, journal position and (for primaries) standbys.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from failover.observer.addresses import SiteAddresses
from failover.observer.counters import next_counts
from failover.observer.metrics import ObserverMetrics
from failover.observer.probes import RoundResult
from failover.observer.publisher import ReportPublisher
from failover.observer.report import PublishedReport
from failover.pacing import run_at_fixed_rate

LOG = logging.getLogger("failover.observer")

#: What a report keeps of each instance's ``/v1/unit`` (the controller needs no more).
UNIT_FIELDS = (
    "role",
    "epoch",
    "last_lsn",
    "last_entry_epoch",
    "durable_lsn",
    "standbys",
    "fence_reason",
    "traffic",
)


class RoundProber(Protocol):
    def round(
        self, instances: Mapping[tuple[str, str], str], site_urls: Mapping[str, str]
    ) -> RoundResult: ...


@dataclass(frozen=True)
class ObservedRound:
    """The latest round: what was seen and the report published for it."""

    result: RoundResult
    report: PublishedReport
    published: bool
    finished_at: float = field(default=0.0)


class Observer:
    def __init__(
        self,
        site: str,
        addresses: SiteAddresses,
        prober: RoundProber,
        publisher: ReportPublisher,
        *,
        interval: float,
        wall_clock: Callable[[], float] = time.time,
        metrics: ObserverMetrics | None = None,
    ) -> None:
        self.site = site
        self.metrics = metrics or ObserverMetrics()
        self._addresses, self._prober, self._publisher = addresses, prober, publisher
        self._interval, self._wall = interval, wall_clock
        self._site_counts: dict[str, int] = {}
        self._instance_counts: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()
        self._latest: ObservedRound | None = None
        self._stop = threading.Event()

    @property
    def latest(self) -> ObservedRound | None:
        with self._lock:
            return self._latest

    def run_round(self) -> ObservedRound:
        """Probe, update the counters, publish; returns the round (never raises on I/O)."""
        started = time.monotonic()
        others = {s: url for s, url in self._addresses.etcd.items() if s != self.site}
        result = self._prober.round(self._addresses.instances(), others)
        self._site_counts = next_counts(self._site_counts, result.sites)
        reached = {key: probe.reached for key, probe in result.instances.items()}
        self._instance_counts = next_counts(self._instance_counts, reached)
        report = PublishedReport(
            observer=self.site,
            reported_at=self._wall(),
            site_failures=dict(self._site_counts),
            instance_failures=dict(self._instance_counts),
            units=_units_seen(result),
            acknowledged=_acknowledged(result),
        )
        published = self._publisher.publish(report)
        observed = ObservedRound(result, report, published, self._wall())
        self.metrics.record(report, published, time.monotonic() - started)
        with self._lock:
            self._latest = observed
        return observed

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        """Run rounds until :meth:`stop`."""
        run_at_fixed_rate(self.run_round, self._interval, self._stop, LOG, "observer round")


def _units_seen(result: RoundResult) -> dict[str, dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for (unit, site), probe in result.instances.items():
        body = probe.body
        if body is not None:
            kept = {k: body.get(k) for k in UNIT_FIELDS if k in body}
            if not _any_writes(kept.get("traffic")):
                # Most instances are standbys that never took a write: their zero
                # counters would triple the report's size for nothing.
                kept.pop("traffic", None)
            seen.setdefault(unit, {})[site] = kept
    return seen


def _any_writes(traffic: Any) -> bool:
    """Whether a ``traffic`` object (app/traffic.py) counted any write at all."""
    writes = traffic.get("writes") if isinstance(traffic, Mapping) else None
    return isinstance(writes, Mapping) and any(
        isinstance(n, int) and n > 0 for n in writes.values()
    )


def _acknowledged(result: RoundResult) -> dict[str, int]:
    """Per unit: the durable lsn a reached primary reports (an acknowledged bound)."""
    found: dict[str, int] = {}
    for (unit, _site), probe in result.instances.items():
        lsn = durable_lsn(probe.body)
        if lsn is not None:
            found[unit] = max(found.get(unit, 0), lsn)
    return found


def durable_lsn(body: Mapping[str, Any] | None) -> int | None:
    """The lsn a primary reports durable by the commit rule: every write it acknowledged
    is at or below it, so it bounds what a failover must keep."""
    if not body or body.get("role") != "primary":
        return None
    lsn = body.get("durable_lsn")
    return lsn if isinstance(lsn, int) else None
