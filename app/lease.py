"""The primary lease port: the right of a primary to accept writes (docs/design.md §3.1).

A primary accepts a write only while ``lease.valid()`` is true, checked on every write
*before* it commits and again before it acknowledges. Implementations must turn
``valid()`` false *before* the lease can expire on the store's side: at
``last successful keepalive + TTL - margin`` on the injected monotonic clock.

- :class:`NoLease` — for a unit service run without a DCS (tests, the single-unit demo):
  always valid while held. Safety then rests on epochs alone.
- ``app.etcd_lease.EtcdPrimaryLease`` — the real one: a lease in etcd with keepalive.
"""

from __future__ import annotations

from typing import Protocol


class LeaseUnavailable(Exception):  # noqa: N818  (name shared with app.etcd_lease)
    """The lease cannot be acquired (someone else holds it, or the store is unreachable)."""


class PrimaryLease(Protocol):
    """Contract of a primary lease. All methods are safe to call from any thread."""

    def acquire(self, unit: str, site: str, epoch: int) -> None:
        """Take the lease for ``unit`` as ``site`` at ``epoch`` and start keeping it alive.

        Raises :class:`LeaseUnavailable` when it cannot be taken right now.
        """

    def valid(self) -> bool:
        """True while writes may be accepted: held and not past the fence deadline."""

    def release(self) -> None:
        """Stop keepalive and revoke the lease if reachable. Idempotent."""


class NoLease:
    """A lease that is valid from ``acquire`` to ``release``; no external store."""

    def __init__(self) -> None:
        self._held = False

    def acquire(self, unit: str, site: str, epoch: int) -> None:
        self._held = True

    def valid(self) -> bool:
        return self._held

    def release(self) -> None:
        self._held = False
