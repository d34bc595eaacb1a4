"""An in-memory :class:`~failover.dcs.port.Dcs` for pure tests of code built on the port
(controller, router, observers): same semantics as etcd for what the port exposes —
store revision, per-key version, leases that expire on an injected clock, atomic
transactions, prefix watches (delivered synchronously, snapshot first). Set
``available = False`` to make every call raise :class:`DcsUnavailable`.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from failover.dcs.errors import DcsUnavailable, LeaseNotFound
from failover.dcs.port import (
    Compare,
    CompareTarget,
    Delete,
    KeyValue,
    LeaseGrant,
    Operation,
    Put,
    TxnResult,
    WatchCallback,
    WatchEvent,
    WatchKind,
    WatchUpdate,
)


@dataclass
class _Lease:
    ttl: int
    expires_at: float


class _Watch:
    def __init__(self, store: MemoryDcs, prefix: str, callback: WatchCallback) -> None:
        self.store, self.prefix, self.callback = store, prefix, callback

    def stop(self) -> None:
        self.store.drop_watch(self)


class MemoryDcs:
    """In-memory quorum store. ``clock``: seconds, monotonic (drives lease expiry)."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._lock = threading.RLock()
        self._data: dict[str, KeyValue] = {}
        self._leases: dict[int, _Lease] = {}
        self._watches: list[_Watch] = []
        self._next_lease = 1000
        self.revision = 1
        self.available = True

    # -- internals -------------------------------------------------------------------------

    def _enter(self) -> None:
        if not self.available:
            raise DcsUnavailable("memory store marked unavailable (test)")
        now = self._clock()
        for lease_id, lease in list(self._leases.items()):
            if lease.expires_at <= now:
                self._drop_lease(lease_id)

    def _drop_lease(self, lease_id: int) -> None:
        self._leases.pop(lease_id, None)
        doomed = [k for k, kv in self._data.items() if kv.lease == lease_id]
        if doomed:
            self._apply([Delete(k) for k in doomed])

    def _apply(self, operations: Sequence[Operation]) -> list[WatchEvent]:
        self.revision += 1
        events = []
        for op in operations:
            if isinstance(op, Put):
                if op.lease and op.lease not in self._leases:
                    raise LeaseNotFound(f"lease {op.lease:x} not found")
                old = self._data.get(op.key)
                version = old.version + 1 if old else 1
                self._data[op.key] = KeyValue(op.key, op.value, version, self.revision, op.lease)
                events.append(WatchEvent(op.key, op.value, self.revision))
            else:
                keys = [k for k in self._data if k.startswith(op.key)] if op.prefix else [op.key]
                for key in keys:
                    if self._data.pop(key, None) is not None:
                        events.append(WatchEvent(key, None, self.revision))
        self._notify(events)
        return events

    def _notify(self, events: list[WatchEvent]) -> None:
        for watch in list(self._watches):
            mine = [e for e in events if e.key.startswith(watch.prefix)]
            if mine:
                watch.callback(WatchUpdate(WatchKind.CHANGES, self.revision, events=mine))

    def _holds(self, compare: Compare) -> bool:
        kv = self._data.get(compare.key)
        actual: str | int
        if compare.target is CompareTarget.VALUE:
            actual = kv.value if kv else ""
        elif compare.target is CompareTarget.VERSION:
            actual = kv.version if kv else 0
        elif compare.target is CompareTarget.MOD:
            actual = kv.mod_revision if kv else 0
        else:
            actual = 1 if kv else 0  # create revision: only "absent" (0) vs "exists" matter
        if compare.target is CompareTarget.VALUE and kv is None:
            return False  # etcd: a value compare on a missing key is false
        return {
            "EQUAL": actual == compare.operand,
            "NOT_EQUAL": actual != compare.operand,
            "GREATER": actual > compare.operand,  # type: ignore[operator]
            "LESS": actual < compare.operand,  # type: ignore[operator]
        }[compare.op]

    def drop_watch(self, watch: _Watch) -> None:
        with self._lock:
            if watch in self._watches:
                self._watches.remove(watch)

    # -- the port --------------------------------------------------------------------------

    def get(self, key: str) -> KeyValue | None:
        with self._lock:
            self._enter()
            return self._data.get(key)

    def get_prefix(self, prefix: str) -> dict[str, KeyValue]:
        with self._lock:
            self._enter()
            return {k: v for k, v in sorted(self._data.items()) if k.startswith(prefix)}

    def put(self, key: str, value: str, lease: int = 0) -> int:
        with self._lock:
            self._enter()
            self._apply([Put(key, value, lease)])
            return self.revision

    def delete(self, key: str, prefix: bool = False) -> int:
        with self._lock:
            self._enter()
            return len(self._apply([Delete(key, prefix)]))

    def txn(
        self,
        compares: Sequence[Compare],
        on_success: Sequence[Operation],
        on_failure: Sequence[Operation] = (),
    ) -> TxnResult:
        with self._lock:
            self._enter()
            succeeded = all(self._holds(c) for c in compares)
            operations = on_success if succeeded else on_failure
            if operations:
                self._apply(operations)
            return TxnResult(succeeded, self.revision)

    def grant(self, ttl: int) -> LeaseGrant:
        with self._lock:
            self._enter()
            self._next_lease += 1
            self._leases[self._next_lease] = _Lease(ttl, self._clock() + ttl)
            return LeaseGrant(self._next_lease, ttl)

    def keepalive(self, lease: int) -> int:
        with self._lock:
            self._enter()
            found = self._leases.get(lease)
            if found is None:
                raise LeaseNotFound(f"lease {lease:x} expired or was revoked")
            self._leases[lease] = replace(found, expires_at=self._clock() + found.ttl)
            return found.ttl

    def revoke(self, lease: int) -> None:
        with self._lock:
            self._enter()
            self._drop_lease(lease)

    def ttl(self, lease: int) -> int:
        with self._lock:
            self._enter()
            found = self._leases.get(lease)
            return -1 if found is None else math.ceil(found.expires_at - self._clock())

    def watch_prefix(self, prefix: str, callback: WatchCallback) -> _Watch:
        with self._lock:
            self._enter()
            watch = _Watch(self, prefix, callback)
            snapshot = {k: v for k, v in self._data.items() if k.startswith(prefix)}
            callback(WatchUpdate(WatchKind.SNAPSHOT, self.revision, snapshot=snapshot))
            self._watches.append(watch)
            return watch

    def close(self) -> None:
        return None
