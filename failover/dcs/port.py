"""The quorum store port: exactly what the orchestrator needs from etcd, and no more.

Keys and values are ``str`` (UTF-8). Every call is time-bounded and raises
:class:`~failover.dcs.errors.DcsUnavailable` (or a subclass) instead of hanging.
Reads are linearizable: a member cut off from the quorum cannot answer them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol


@dataclass(frozen=True, slots=True)
class KeyValue:
    """A key as stored: its value, per-key ``version`` (1 on create), ``mod_revision``
    (store revision of the last change) and the lease it is attached to (0: none)."""

    key: str
    value: str
    version: int
    mod_revision: int
    lease: int = 0


class CompareTarget(StrEnum):
    VALUE = "VALUE"
    VERSION = "VERSION"
    MOD = "MOD"
    CREATE = "CREATE"


@dataclass(frozen=True, slots=True)
class Compare:
    """One comparison of a transaction; build with the class methods."""

    key: str
    target: CompareTarget
    op: str  # "EQUAL" | "NOT_EQUAL" | "GREATER" | "LESS"
    operand: str | int

    @classmethod
    def value_is(cls, key: str, value: str) -> Compare:
        return cls(key, CompareTarget.VALUE, "EQUAL", value)

    @classmethod
    def version_is(cls, key: str, version: int) -> Compare:
        """``version`` 0 means the key does not exist."""
        return cls(key, CompareTarget.VERSION, "EQUAL", version)

    @classmethod
    def mod_revision_is(cls, key: str, revision: int) -> Compare:
        return cls(key, CompareTarget.MOD, "EQUAL", revision)

    @classmethod
    def absent(cls, key: str) -> Compare:
        return cls(key, CompareTarget.CREATE, "EQUAL", 0)

    @classmethod
    def exists(cls, key: str) -> Compare:
        return cls(key, CompareTarget.CREATE, "GREATER", 0)


@dataclass(frozen=True, slots=True)
class Put:
    key: str
    value: str
    lease: int = 0


@dataclass(frozen=True, slots=True)
class Delete:
    key: str
    prefix: bool = False


Operation = Put | Delete


@dataclass(frozen=True, slots=True)
class TxnResult:
    """``succeeded``: the comparisons held and ``on_success`` was applied (else
    ``on_failure``). ``revision``: the store revision after the transaction."""

    succeeded: bool
    revision: int


@dataclass(frozen=True, slots=True)
class LeaseGrant:
    """A granted lease: its id and the TTL etcd actually granted (may exceed the request)."""

    id: int
    ttl: int


class WatchKind(StrEnum):
    SNAPSHOT = "snapshot"
    CHANGES = "changes"


@dataclass(frozen=True, slots=True)
class WatchEvent:
    """One change under a watched prefix. ``value`` is None for a delete."""

    key: str
    value: str | None
    mod_revision: int


@dataclass(frozen=True, slots=True)
class WatchUpdate:
    """What a prefix watch delivers.

    ``SNAPSHOT``: the complete current content of the prefix at ``revision`` (sent first,
    and again after every reconnect: replace your view with it, nothing was missed).
    ``CHANGES``: events after the last update, in revision order.
    """

    kind: WatchKind
    revision: int
    snapshot: Mapping[str, KeyValue] = field(default_factory=dict)
    events: Sequence[WatchEvent] = ()


WatchCallback = Callable[[WatchUpdate], None]


class WatchHandle(Protocol):
    def stop(self) -> None:
        """Stop delivering updates and release the connection. Idempotent."""


class Dcs(Protocol):
    """The quorum store port. Implementations: :class:`failover.dcs.etcd.EtcdDcs`."""

    def get(self, key: str) -> KeyValue | None: ...

    def get_prefix(self, prefix: str) -> dict[str, KeyValue]: ...

    def put(self, key: str, value: str, lease: int = 0) -> int:
        """Write unconditionally; returns the new store revision."""
        ...

    def delete(self, key: str, prefix: bool = False) -> int:
        """Delete a key (or every key under a prefix); returns how many were deleted."""
        ...

    def txn(
        self,
        compares: Sequence[Compare],
        on_success: Sequence[Operation],
        on_failure: Sequence[Operation] = (),
    ) -> TxnResult:
        """All ``compares`` true → apply ``on_success`` atomically, else ``on_failure``.

        Raises :class:`~failover.dcs.errors.DcsOutcomeUnknown` when the answer was lost.
        """
        ...

    def grant(self, ttl: int) -> LeaseGrant: ...

    def keepalive(self, lease: int) -> int:
        """Refresh a lease; returns its TTL. Raises ``LeaseNotFound`` if it expired."""
        ...

    def revoke(self, lease: int) -> None:
        """Revoke a lease and delete its keys. A lease already gone is not an error."""
        ...

    def ttl(self, lease: int) -> int:
        """Seconds the lease has left on the store; -1 when it no longer exists."""
        ...

    def watch_prefix(self, prefix: str, callback: WatchCallback) -> WatchHandle:
        """Deliver a snapshot then changes under ``prefix`` to ``callback`` from a
        background thread, reconnecting (and re-snapshotting) until stopped."""
        ...

    def close(self) -> None: ...
