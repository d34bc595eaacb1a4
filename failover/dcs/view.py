"""A read-only view of the quorum store: every key under one prefix, read in one request.

A controller cycle builds its snapshot from routes, leases, observer reports, marks,
operations, approvals, failover history and the freeze flag. Read one prefix at a time,
that was eight requests per cycle per controller, each at its own store revision. Read
through a :class:`ReadView` it is one range request, and the snapshot is the store as it
was at that one revision (docs/design.md §3, after the invariants).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from failover.dcs.port import (
    Compare,
    Dcs,
    KeyValue,
    LeaseGrant,
    Operation,
    TxnResult,
    WatchCallback,
    WatchHandle,
)


class ReadOnlyViewError(TypeError):
    """Something tried to change the store, or to read outside the view, through it."""


class ReadView:
    """What :meth:`read` found under ``prefix``. Answers ``get`` and ``get_prefix`` for
    keys under that prefix as the :class:`Dcs` port would have at that moment; a read
    outside the prefix, or any write, lease or watch, raises :class:`ReadOnlyViewError`
    (a bug: the caller meant the live store)."""

    def __init__(self, prefix: str, found: Mapping[str, KeyValue]) -> None:
        self._prefix = prefix
        self._found = dict(sorted(found.items()))

    @classmethod
    def read(cls, dcs: Dcs, prefix: str) -> ReadView:
        """One range request for everything under ``prefix``. Raises ``DcsError``."""
        return cls(prefix, dcs.get_prefix(prefix))

    def _inside(self, key: str) -> None:
        if not key.startswith(self._prefix):
            raise ReadOnlyViewError(f"{key!r} is outside the view of {self._prefix!r}")

    def get(self, key: str) -> KeyValue | None:
        self._inside(key)
        return self._found.get(key)

    def get_prefix(self, prefix: str) -> dict[str, KeyValue]:
        self._inside(prefix)
        return {k: v for k, v in self._found.items() if k.startswith(prefix)}

    def _refuse(self, what: str) -> ReadOnlyViewError:
        return ReadOnlyViewError(f"{what} through a read-only view of {self._prefix!r}")

    def put(self, key: str, value: str, lease: int = 0) -> int:
        raise self._refuse(f"put {key!r}")

    def delete(self, key: str, prefix: bool = False) -> int:
        raise self._refuse(f"delete {key!r}")

    def txn(
        self,
        compares: Sequence[Compare],
        on_success: Sequence[Operation],
        on_failure: Sequence[Operation] = (),
    ) -> TxnResult:
        raise self._refuse("a transaction")

    def grant(self, ttl: int) -> LeaseGrant:
        raise self._refuse("a lease grant")

    def keepalive(self, lease: int) -> int:
        raise self._refuse("a lease keepalive")

    def revoke(self, lease: int) -> None:
        raise self._refuse("a lease revoke")

    def ttl(self, lease: int) -> int:
        raise self._refuse("a lease TTL read")

    def watch_prefix(self, prefix: str, callback: WatchCallback) -> WatchHandle:
        raise self._refuse("a watch")

    def close(self) -> None:
        """Nothing to release: the view holds no connection."""
