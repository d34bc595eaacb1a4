"""A client's retry budget: retries may add only a share of the load, never multiply it.

A write that fails is retried with its key (:mod:`drills.loadgen`); without a limit,
every write of an outage retries every second until its client gives up, and the
retries outgrow the offered load itself (a drill at 500 writes/s once sent 999 attempts
a second). Then the sites that are back spend their capacity on the retry storm, and the
units the fault never touched slow down with them. Real clients bound their retries the
way gRPC's retry throttling and Finagle's ``RetryBudget`` do, and so does the drill's
load generator (docs/drills.md §6, "How a run works"):

over the last ``window_seconds``, at most ``min_per_second * window_seconds`` retries
plus ``ratio`` retries for every first attempt sent in that window. A retry that does not
fit is not sent: the write is given up, unacknowledged, as a client gives up on it
(counted in the drill report as ``retries_refused``).

Pure: the caller passes the time (seconds on one monotonic clock, never decreasing).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass
class RetryBudget:
    """Grants or refuses retries (module docstring). Not thread-safe: one event loop."""

    ratio: float = 0.2
    min_per_second: float = 10.0
    window_seconds: float = 10.0
    _firsts: deque[float] = field(default_factory=deque, repr=False)
    _retries: deque[float] = field(default_factory=deque, repr=False)

    def first_attempt(self, now: float) -> None:
        """A write's first attempt was sent at ``now``: it earns ``ratio`` of a retry."""
        self._firsts.append(now)

    def allowed(self, now: float) -> float:
        """How many retries the window ending at ``now`` holds in all."""
        self._forget(now)
        return self.min_per_second * self.window_seconds + self.ratio * len(self._firsts)

    def try_retry(self, now: float) -> bool:
        """True, and the retry counted, when one more retry at ``now`` fits the budget."""
        allowed = self.allowed(now)  # first: it forgets what left the window
        if len(self._retries) + 1 > allowed:
            return False
        self._retries.append(now)
        return True

    def _forget(self, now: float) -> None:
        # The window is (now - window_seconds, now]: what happened at its left edge is out.
        edge = now - self.window_seconds
        for times in (self._firsts, self._retries):
            while times and times[0] <= edge:
                times.popleft()
