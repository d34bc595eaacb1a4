"""Business traffic of one instance: cumulative write outcomes by transaction type and a
cumulative write-latency histogram, for the controller's trend watch.

Exposed as ``traffic`` in ``GET /v1/unit``, which the observers already read every probe
interval, so the trend watch costs no extra request. Everything is **cumulative since
this process started**: whoever reads it takes differences between two readings, so a
missed reading loses nothing, and ``boot`` (new at every start) says when the counters
started over. ``at`` is this process's monotonic clock, so rates between two readings
are exact whichever observer relayed them and however late.

Counted: every write the write path answered as new (``approved`` or ``declined``, the
ledger's verdict) and every write it could not take (``failed``: a 5xx — not writable,
quorum not reached, an internal error). Replays and a client's mistakes (4xx) are not
business traffic and are not counted.
"""

from __future__ import annotations

import bisect
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

OUTCOMES = ("approved", "declined", "failed")
TYPES = ("purchase", "payment", "refund")

#: Upper bounds of the latency buckets in milliseconds, 1 ms to 16 s (the last bucket is
#: unbounded). Steps of 2^(1/4) ≈ 1.19x: a doubled latency then reads as at least 1.68x
#: whichever buckets it falls in, above the trend watch's 1.6x threshold (steps of 1.5x
#: let a doubling read as 1.33x).
LATENCY_BOUNDS_MS = tuple(round(2 ** (k / 4), 2) for k in range(57))


class TrafficCounters:
    """Thread-safe cumulative counters; :meth:`record` from request threads, :meth:`view`
    for ``/v1/unit``."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._boot = uuid.uuid4().hex[:16]
        self._lock = threading.Lock()
        self._counts = {f"{t}/{o}": 0 for t in TYPES for o in OUTCOMES}
        self._latency = [0] * (len(LATENCY_BOUNDS_MS) + 1)

    def record(self, kind: str, outcome: str, seconds: float) -> None:
        """Count one write of type ``kind`` with ``outcome`` (one of :data:`OUTCOMES`)
        that took ``seconds`` to answer. An unknown type or outcome is ignored."""
        key = f"{kind}/{outcome}"
        bucket = bisect.bisect_left(LATENCY_BOUNDS_MS, seconds * 1000.0)
        with self._lock:
            if key not in self._counts:
                return
            self._counts[key] += 1
            self._latency[bucket] += 1

    def view(self) -> dict[str, Any]:
        """The JSON of ``traffic`` in ``/v1/unit`` (docs/unit-service.md)."""
        with self._lock:
            counts = dict(self._counts)
            latency = list(self._latency)
        return {
            "boot": self._boot,
            "at": round(self._clock(), 3),
            "writes": counts,
            "latency_bounds_ms": list(LATENCY_BOUNDS_MS),
            "latency_counts": latency,
        }
