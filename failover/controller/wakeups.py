"""What wakes the controller's cycle before its interval is up (docs/controller.md).

A cycle runs every probe interval. Two kinds of news are worth a cycle at once, because
a failover waits on them and a fault's RTO grows by whatever is left of the interval:

- **an observer counts failed rounds**: its report (``observers/<site>``) changed and
  some site or instance has failed at least one round. The quorum's verdict may have
  changed (a site now down, an instance to move). Reports are published every round, so
  an unchanged count, or all zero, wakes nothing: a healthy platform runs its cycles on
  the interval as before.
- **a primary's lease lapsed** (a key under ``leases/primary/`` deleted): a unit waiting
  for its old primary's lease to go can be moved now.

The rules (:func:`report_calls_for_a_cycle`, :func:`lease_lapsed`) are pure; the watches
are the DCS port's prefix watches. A wake only brings the next cycle forward (at least a
tenth of an interval after the last: failover/pacing.py); the cycle still decides from a
fresh snapshot, so a spurious wake costs one cycle and decides nothing new.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping

from failover.dcs import Dcs, Keys, WatchHandle, WatchKind, WatchUpdate
from failover.observer.report import PublishedReport

log = logging.getLogger(__name__)

Counters = tuple[tuple[str, int], ...]
"""An observer's failed-round counters, sites then instances, in a stable order."""


def counters(report: PublishedReport) -> Counters:
    sites = sorted(report.site_failures.items())
    instances = sorted((f"{u}/{s}", n) for (u, s), n in report.instance_failures.items())
    return tuple(sites + instances)


def report_calls_for_a_cycle(before: Counters | None, now: Counters) -> bool:
    """True when an observer's counters changed and one of them is not zero."""
    return now != before and any(n > 0 for _, n in now)


def lease_lapsed(update: WatchUpdate) -> bool:
    """True when a change deletes a key (a lease's key goes with its lease)."""
    return update.kind is WatchKind.CHANGES and any(e.value is None for e in update.events)


class CycleWakeups:
    """Watches the observers' reports and the primaries' leases; calls ``wake`` on the
    news above. :meth:`start` and :meth:`stop` once each."""

    def __init__(self, dcs: Dcs, keys: Keys, wake: Callable[[], None]) -> None:
        self._dcs, self._keys, self._wake = dcs, keys, wake
        self._seen: dict[str, Counters] = {}
        self._lock = threading.Lock()
        self._watches: list[WatchHandle] = []

    def start(self) -> None:
        self._watches = [
            self._dcs.watch_prefix(self._keys.observers_prefix, self._on_reports),
            self._dcs.watch_prefix(self._keys.primary_leases_prefix, self._on_leases),
        ]

    def stop(self) -> None:
        for watch in self._watches:
            watch.stop()
        self._watches = []

    def _on_reports(self, update: WatchUpdate) -> None:
        if update.kind is WatchKind.SNAPSHOT:
            values: Mapping[str, str | None] = {k: kv.value for k, kv in update.snapshot.items()}
        else:
            values = {e.key: e.value for e in update.events}
        woken = False
        with self._lock:
            for key, value in values.items():
                if value is None:  # the observer's lease lapsed: its vote is gone
                    self._seen.pop(key, None)
                    continue
                try:
                    now = counters(PublishedReport.decode(value))
                except ValueError as exc:  # the cycle reads it too, and says so
                    log.debug("unreadable observer report at %s: %s", key, exc)
                    continue
                woken |= report_calls_for_a_cycle(self._seen.get(key), now)
                self._seen[key] = now
        if woken:
            self._wake()

    def _on_leases(self, update: WatchUpdate) -> None:
        if lease_lapsed(update):
            self._wake()
