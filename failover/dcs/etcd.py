"""The quorum store port over etcd's JSON gateway (etcd3gw), with endpoint failover.

Why etcd3gw (not aetcd): plain synchronous HTTP/JSON on ``requests`` — no grpc wheels,
every request carries its own timeout, and it crosses our TCP link proxies like any HTTP
traffic. See ``docs/dcs.md``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from failover.dcs import policies
from failover.dcs.codec import as_int, b64, compare_json, key_value, operation_json, prefix_end
from failover.dcs.errors import LeaseNotFound
from failover.dcs.port import (
    Compare,
    KeyValue,
    LeaseGrant,
    Operation,
    TxnResult,
    WatchCallback,
    WatchHandle,
)
from failover.dcs.transport import Transport
from failover.dcs.watch import PrefixWatcher

DEFAULT_TIMEOUT_SECONDS = 1.0


class EtcdDcs:
    """:class:`failover.dcs.port.Dcs` over one etcd cluster.

    ``endpoints``: client URLs (``http://host:port``), tried in turn. ``timeout``: per
    request, seconds. Watches use ``idle_timeout`` (silence that means a dead stream; our
    local members send progress notifications every second) and ``resync_interval``.
    """

    def __init__(
        self,
        endpoints: Sequence[str],
        *,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        idle_timeout: float = 5.0,
        resync_interval: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._transport = Transport(endpoints, timeout)
        self._idle_timeout = idle_timeout
        self._resync_interval = resync_interval
        self._clock = clock

    @property
    def endpoints(self) -> tuple[str, ...]:
        return self._transport.endpoints

    def _read(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        for attempt in policies.READ():
            with attempt:
                return self._transport.post(path, body, write=False)
        raise AssertionError("unreachable: tenacity reraises")

    def _write(self, path: str, body: dict[str, Any], policy: policies.RetryFactory) -> Any:
        for attempt in policy():
            with attempt:
                return self._transport.post(path, body, write=True)
        raise AssertionError("unreachable: tenacity reraises")

    def get(self, key: str) -> KeyValue | None:
        answer = self._read("/kv/range", {"key": b64(key)})
        kvs = answer.get("kvs", [])
        return key_value(kvs[0]) if kvs else None

    def get_prefix(self, prefix: str) -> dict[str, KeyValue]:
        return self.get_prefix_at(prefix)[0]

    def get_prefix_at(self, prefix: str) -> tuple[dict[str, KeyValue], int]:
        """Everything under ``prefix`` and the store revision it was read at."""
        answer = self._read("/kv/range", {"key": b64(prefix), "range_end": prefix_end(prefix)})
        items = [key_value(raw) for raw in answer.get("kvs", [])]
        return {kv.key: kv for kv in items}, as_int(answer.get("header", {}).get("revision"))

    def put(self, key: str, value: str, lease: int = 0) -> int:
        body: dict[str, Any] = {"key": b64(key), "value": b64(value)}
        if lease:
            body["lease"] = str(lease)
        answer = self._write("/kv/put", body, policies.IDEMPOTENT_WRITE)
        return as_int(answer.get("header", {}).get("revision"))

    def delete(self, key: str, prefix: bool = False) -> int:
        body: dict[str, Any] = {"key": b64(key)}
        if prefix:
            body["range_end"] = prefix_end(key)
        answer = self._write("/kv/deleterange", body, policies.IDEMPOTENT_WRITE)
        return as_int(answer.get("deleted"))

    def txn(
        self,
        compares: Sequence[Compare],
        on_success: Sequence[Operation],
        on_failure: Sequence[Operation] = (),
    ) -> TxnResult:
        body = {
            "compare": [compare_json(c) for c in compares],
            "success": [operation_json(o) for o in on_success],
            "failure": [operation_json(o) for o in on_failure],
        }
        answer = self._write("/kv/txn", body, policies.TXN)
        return TxnResult(
            succeeded=bool(answer.get("succeeded", False)),
            revision=as_int(answer.get("header", {}).get("revision")),
        )

    def grant(self, ttl: int) -> LeaseGrant:
        answer = self._write("/lease/grant", {"TTL": str(ttl)}, policies.TXN)
        return LeaseGrant(id=as_int(answer.get("ID")), ttl=as_int(answer.get("TTL")))

    def keepalive(self, lease: int) -> int:
        answer = self._write("/lease/keepalive", {"ID": str(lease)}, policies.KEEPALIVE)
        ttl = as_int(answer.get("result", {}).get("TTL"))
        if ttl <= 0:
            raise LeaseNotFound(f"etcd lease {lease:x} expired or was revoked; grant a new one")
        return ttl

    def revoke(self, lease: int) -> None:
        try:
            self._write("/lease/revoke", {"ID": str(lease)}, policies.IDEMPOTENT_WRITE)
        except LeaseNotFound:
            return

    def ttl(self, lease: int) -> int:
        answer = self._read("/lease/timetolive", {"ID": str(lease)})
        ttl = as_int(answer.get("TTL"))
        return ttl if ttl >= 0 else -1

    def watch_prefix(self, prefix: str, callback: WatchCallback) -> WatchHandle:
        return PrefixWatcher(
            self._transport.endpoints,
            prefix,
            callback,
            self.get_prefix_at,
            connect_timeout=self._transport.timeout,
            idle_timeout=self._idle_timeout,
            resync_interval=self._resync_interval,
            clock=self._clock,
        )

    def members(self) -> list[dict[str, Any]]:
        """etcd's member list (ids as hex strings under ``id_hex``), for diagnostics."""
        answer = self._read("/cluster/member/list", {})
        members: list[dict[str, Any]] = answer.get("members", [])
        return [{**m, "id_hex": f"{as_int(m.get('ID')):x}"} for m in members]

    def close(self) -> None:
        self._transport.close()
