"""Fence a primary as soon as its lease lapses, not at its next write.

Writes already check ``lease.valid()`` before commit and before acknowledging, so no
write can slip through; the watchdog makes the lapse *visible*: ``/v1/unit`` and the
observers see ``fenced`` within one check interval instead of "primary" on an instance
that may not write (docs/design.md §3.1), and the controller can act on it.
"""

from __future__ import annotations

import logging
import threading

from app.node import Node

log = logging.getLogger(__name__)
CHECK_INTERVAL_SECONDS = 0.1


class LeaseWatchdog:
    """A daemon thread that fences ``node`` when it is primary and its lease is invalid."""

    def __init__(self, node: Node, interval: float = CHECK_INTERVAL_SECONDS) -> None:
        self._node = node
        self._interval = interval
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="lease-watchdog", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(timeout=5 * self._interval + 1)
            self._thread = None

    def check_once(self) -> bool:
        """Fence if needed; True when this call fenced the node."""
        if self._node.role.role == "primary" and not self._node.lease.valid():
            self._node.fence("primary lease lapsed (keepalive not confirmed in time)")
            return True
        return False

    def _run(self) -> None:
        while not self._stopped.wait(self._interval):
            try:
                self.check_once()
            except Exception:  # a failed check must not kill the watchdog
                log.exception("lease watchdog check failed; retrying")
