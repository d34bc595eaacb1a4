"""Fence a primary as soon as its lease lapses, not at its next write.

Writes already check ``lease.valid()`` before commit and before acknowledging, so no
write can slip through; the watchdog makes the lapse *visible*: ``/v1/unit`` and the
observers see ``fenced`` within one check interval instead of "primary" on an instance
that may not write (docs/design.md §3.1), and the controller can act on it.

Only a primary holds a lease, so only a primary is checked ten times a second; any other
role once a second, which is how soon a promotion is first checked. A promotion takes a
fresh lease (valid for its TTL less the fence margin, seconds), so that check comes long
before it could lapse. Two thirds of a unit platform's instances are standbys: polling
them as often cost the idle platform ~0.01 cores for nothing (docs/benchmarks.md).
"""

from __future__ import annotations

import logging
import threading

from app.node import Node

log = logging.getLogger(__name__)
CHECK_INTERVAL_SECONDS = 0.1
"""Between two checks of a primary."""
OTHER_ROLE_INTERVAL_SECONDS = 1.0
"""Between two checks of an instance in any other role (it holds no lease)."""


class LeaseWatchdog:
    """A daemon thread that fences ``node`` when it is primary and its lease is invalid."""

    def __init__(
        self,
        node: Node,
        interval: float = CHECK_INTERVAL_SECONDS,
        other_role_interval: float = OTHER_ROLE_INTERVAL_SECONDS,
    ) -> None:
        self._node = node
        self._interval = interval
        self._other_role_interval = other_role_interval
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="lease-watchdog", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(timeout=5 * self._other_role_interval + 1)
            self._thread = None

    def check_once(self) -> bool:
        """Fence if needed; True when this call fenced the node."""
        if self._node.role.role == "primary" and not self._node.lease.valid():
            self._node.fence("primary lease lapsed (keepalive not confirmed in time)")
            return True
        return False

    def next_check_in(self) -> float:
        """Seconds until the next check: short while primary, long in any other role."""
        return self._interval if self._node.role.role == "primary" else self._other_role_interval

    def _run(self) -> None:
        while not self._stopped.wait(self.next_check_in()):
            try:
                self.check_once()
            except Exception:  # a failed check must not kill the watchdog
                log.exception("lease watchdog check failed; retrying")
