"""Errors of the quorum store adapter: a small hierarchy with actionable messages.

- :class:`DcsError` — base; never raised directly.
- :class:`DcsUnavailable` — no endpoint answered in time (or none has quorum). The call
  had no effect. Retry later, or check that a majority of etcd members is up and reachable.
- :class:`DcsOutcomeUnknown` — a write was sent but no answer came back: it may or may not
  have been applied. Re-read the keys before deciding (``move_route`` does this itself).
- :class:`CasFailed` — a compare-and-swap transaction's comparisons did not hold; nothing
  was written. Carries what was found so the caller can decide.
- :class:`LeaseNotFound` — the lease expired or was revoked on the etcd side.
"""

from __future__ import annotations


class DcsError(Exception):
    """Base of every error raised by :mod:`failover.dcs`."""


class DcsUnavailable(DcsError):  # noqa: N818 (name used across the project)
    """The store could not be reached or has no quorum; the call had no effect."""


class DcsOutcomeUnknown(DcsUnavailable):
    """A write was sent but its answer was lost; it may have been applied. Re-read first."""


class CasFailed(DcsError):  # noqa: N818
    """A transaction's comparisons were false; nothing was written."""

    def __init__(self, message: str, found: object = None) -> None:
        super().__init__(message)
        self.found = found


class LeaseNotFound(DcsError):  # noqa: N818
    """The lease no longer exists on the store (expired or revoked)."""
