"""The few etcd calls a unit primary needs for its lease (over etcd3gw's JSON gateway).

``app`` may not import ``failover`` (DESIGN §2), so this is a deliberately tiny twin of
``failover.dcs``: grant, keepalive, revoke, get, and the one transaction that claims
``leases/primary/<unit>``. Values are canonical JSON (sorted keys, no spaces), the same
rule as ``failover.dcs.codec.canonical_json``. Each call tries the endpoints in turn with
a short timeout and raises :class:`EtcdStoreError` when none answers.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from typing import Any, Protocol
from urllib.parse import urlsplit

import etcd3gw
from etcd3gw import exceptions as gw


class EtcdStoreError(Exception):
    """No etcd endpoint answered (or etcd refused the call); the message says which."""


class LeaseStore(Protocol):
    """What :class:`app.etcd_lease.EtcdPrimaryLease` needs from the store."""

    def grant(self, ttl: int) -> tuple[int, int]:
        """Grant a lease; return (id, granted TTL)."""

    def keepalive(self, lease_id: int) -> int:
        """Refresh; return the TTL now left (0 when the lease is gone)."""

    def revoke(self, lease_id: int) -> None: ...

    def get(self, key: str) -> tuple[str, int] | None:
        """(value, lease id — 0 for none) of ``key``, or None when absent."""

    def claim(self, key: str, value: str, lease_id: int, route_key: str, route: str | None) -> bool:
        """Put ``key`` = ``value`` on the lease iff ``key`` is absent and ``route_key`` is
        still exactly ``route`` (absent when None). True when it was put."""


def canonical_json(data: Mapping[str, Any]) -> str:
    return json.dumps(dict(data), sort_keys=True, separators=(",", ":"))


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


class EtcdClient:
    """:class:`LeaseStore` over etcd's JSON gateway."""

    def __init__(self, endpoints: Sequence[str], timeout: float = 0.5) -> None:
        if not endpoints:
            raise ValueError("at least one etcd endpoint is needed")
        self._clients = []
        for url in endpoints:
            parts = urlsplit(url if "://" in url else f"http://{url}")
            if not parts.hostname or not parts.port:
                raise ValueError(f"etcd endpoint {url!r} must look like http://127.0.0.1:2379")
            client = etcd3gw.Etcd3Client(
                host=parts.hostname, port=parts.port, timeout=timeout, api_path="/v3/"
            )
            self._clients.append((url, client))
        self._current = 0

    def _post(self, path: str, body: dict[str, Any], tries: int | None = None) -> dict[str, Any]:
        """Ask the endpoint that answered last, then the next ones: ``tries`` of them (all
        by default). A failed endpoint is passed over by the next call."""
        errors = []
        for step in range(tries or len(self._clients)):
            index = (self._current + step) % len(self._clients)
            url, client = self._clients[index]
            try:
                answer: dict[str, Any] = client.post(client.get_url(path), json=body)
            except gw.Etcd3Exception as exc:
                errors.append(f"{url}: {(exc.detail_text or type(exc).__name__)[:160]}")
                self._current = (index + 1) % len(self._clients)
                continue
            self._current = index
            return answer
        which = (
            "every endpoint" if len(errors) == len(self._clients) else "; next call asks the next"
        )
        raise EtcdStoreError(f"etcd {path} failed ({which}): " + "; ".join(errors))

    def grant(self, ttl: int) -> tuple[int, int]:
        answer = self._post("/lease/grant", {"TTL": str(ttl)})
        return int(answer["ID"]), int(answer.get("TTL", ttl))

    def keepalive(self, lease_id: int) -> int:
        """One endpoint per call, the next one after a failure. When etcd's raft leader
        dies, a member keeps forwarding renewals to it until the election is over; asking
        every endpoint in one call would wait out each of them (three timeouts, 2 s),
        while one endpoint per call lets the lease loop retry at once on the next."""
        answer = self._post("/lease/keepalive", {"ID": str(lease_id)}, tries=1)
        return max(0, int(answer.get("result", {}).get("TTL", 0)))

    def revoke(self, lease_id: int) -> None:
        try:
            self._post("/lease/revoke", {"ID": str(lease_id)})
        except EtcdStoreError as exc:
            if "lease not found" not in str(exc):
                raise

    def get(self, key: str) -> tuple[str, int] | None:
        kvs = self._post("/kv/range", {"key": _b64(key)}).get("kvs", [])
        if not kvs:
            return None
        value = base64.b64decode(kvs[0].get("value", "")).decode("utf-8")
        return value, int(kvs[0].get("lease", 0))

    def claim(self, key: str, value: str, lease_id: int, route_key: str, route: str | None) -> bool:
        route_compare: dict[str, Any] = (
            {"key": _b64(route_key), "target": "CREATE", "result": "EQUAL", "create_revision": "0"}
            if route is None
            else {
                "key": _b64(route_key),
                "target": "VALUE",
                "result": "EQUAL",
                "value": _b64(route),
            }
        )
        body = {
            "compare": [
                {"key": _b64(key), "target": "CREATE", "result": "EQUAL", "create_revision": "0"},
                route_compare,
            ],
            "success": [
                {"request_put": {"key": _b64(key), "value": _b64(value), "lease": str(lease_id)}}
            ],
            "failure": [],
        }
        return bool(self._post("/kv/txn", body).get("succeeded", False))

    def close(self) -> None:
        for _, client in self._clients:
            client.session.close()
