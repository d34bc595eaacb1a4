"""The few etcd calls a unit primary needs for its lease (over etcd3gw's JSON gateway).

``app`` may not import ``failover`` (docs/design.md §2), so this is a deliberately tiny twin of
``failover.dcs``: grant, keepalive, revoke, get, and the one transaction that claims
``leases/primary/<unit>``. Values are canonical JSON (sorted keys, no spaces), the same
rule as ``failover.dcs.codec.canonical_json``. Each call tries the endpoints in turn with
a short timeout and raises :class:`EtcdStoreError` when none answers.

Keepalives are **hedged**: the endpoint that answered last is asked first; if it has not
answered within ``HEDGE_AFTER_SECONDS``, the next one is asked too, and so on; the first
answer wins. An endpoint that failed is *suspect* for ``SUSPECT_SECONDS`` and asked
last. A keepalive must never spend the fence budget (TTL − margin, 3 s) waiting out dead
endpoints one after another: behind a cut link, one busy member and one slow leader did
exactly that (three timeouts of 0.67 s) and fenced a healthy primary at the heal of a
city-A partition (docs/unit-service.md, "the lease under pressure").

Endpoints are ``http://`` or, with mutual TLS (docs/security.md), ``https://`` with this
process's certificate (``WATERTIGHT_TLS_DIR``, :func:`failover.tls.from_env`); the two go
together, as in ``failover.dcs.transport``.
"""

from __future__ import annotations

import base64
import functools
import json
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any, Protocol

from etcd3gw import exceptions as gw

from failover.etcd_gateway import gateway_client
from failover.tls import TlsFiles, from_env

HEDGE_AFTER_SECONDS = 0.15
SUSPECT_SECONDS = 5.0


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


class Endpoint(Protocol):
    """One etcd member's JSON gateway: ``post`` raises :class:`EtcdStoreError`."""

    url: str

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]: ...

    def close(self) -> None: ...


class GatewayEndpoint:
    """:class:`Endpoint` over etcd3gw (one HTTP session per member).

    ``tls``: the certificate to present on an ``https://`` URL. Raises ``ValueError``
    naming the URL when it is malformed, https without ``tls``, or plain http with it
    (no silent downgrade)."""

    def __init__(self, url: str, timeout: float, tls: TlsFiles | None = None) -> None:
        self.url = url
        self._client = gateway_client(url, timeout, tls)

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            answer: dict[str, Any] = self._client.post(self._client.get_url(path), json=body)
        except gw.Etcd3Exception as exc:
            detail = (exc.detail_text or type(exc).__name__)[:160]
            raise EtcdStoreError(f"{self.url}: {detail}") from exc
        return answer

    def close(self) -> None:
        self._client.session.close()


class EtcdClient:
    """:class:`LeaseStore` over etcd's JSON gateway (see the module docstring).

    ``endpoints`` may be ``https://`` when this process has a TLS directory (read once,
    here); ``ValueError`` names an endpoint that cannot be used."""

    def __init__(
        self,
        endpoints: Sequence[str],
        timeout: float = 0.5,
        *,
        members: Sequence[Endpoint] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not endpoints and not members:
            raise ValueError("at least one etcd endpoint is needed")
        if members is None:
            tls = from_env()
            members = [GatewayEndpoint(url, timeout, tls) for url in endpoints]
        self._members = list(members)
        self._suspect_until = [0.0] * len(self._members)
        self._current = 0
        self._clock = clock
        # Overlapping keepalives (app.etcd_lease) each fan out over the members.
        self._pool = ThreadPoolExecutor(len(self._members) * 8, thread_name_prefix="etcd")

    def _order(self) -> list[int]:
        """Endpoints to ask, in order: from the last that answered, suspects last."""
        now, count = self._clock(), len(self._members)
        ring = [(self._current + step) % count for step in range(count)]
        fine = [i for i in ring if self._suspect_until[i] <= now]
        suspects = sorted((i for i in ring if i not in fine), key=self._suspect_until.__getitem__)
        return fine + suspects

    def _outcome(self, index: int, ok: bool) -> None:
        if ok:
            self._current, self._suspect_until[index] = index, 0.0
        else:
            self._suspect_until[index] = self._clock() + SUSPECT_SECONDS

    def _settle(
        self, index: int, attempt: Callable[[], dict[str, Any]], errors: list[str]
    ) -> dict[str, Any] | None:
        """The answer of ``attempt`` at endpoint ``index``, or None (the error noted);
        either way the endpoint's standing is updated."""
        try:
            answer = attempt()
        except EtcdStoreError as exc:
            errors.append(str(exc))
            self._outcome(index, ok=False)
            return None
        self._outcome(index, ok=True)
        return answer

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """Ask the endpoints one after another until one answers."""
        errors: list[str] = []
        for index in self._order():
            attempt = functools.partial(self._members[index].post, path, body)
            answer = self._settle(index, attempt, errors)
            if answer is not None:
                return answer
        raise EtcdStoreError(f"etcd {path} failed at every endpoint: " + "; ".join(errors))

    def _hedged(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """Ask the first endpoint; every ``HEDGE_AFTER_SECONDS`` without an answer (or at
        once after a failure) ask the next one too. The first answer wins."""
        order, asked = self._order(), 0
        errors: list[str] = []
        waiting: dict[Future[dict[str, Any]], int] = {}
        while True:
            if asked < len(order):
                index = order[asked]
                waiting[self._pool.submit(self._members[index].post, path, body)] = index
                asked += 1
            elif not waiting:
                raise EtcdStoreError(f"etcd {path} failed at every endpoint: " + "; ".join(errors))
            timeout = HEDGE_AFTER_SECONDS if asked < len(order) else None
            done, _ = wait(list(waiting), timeout=timeout, return_when=FIRST_COMPLETED)
            for future in done:
                answer = self._settle(waiting.pop(future), future.result, errors)
                if answer is not None:
                    return answer

    def grant(self, ttl: int) -> tuple[int, int]:
        answer = self._post("/lease/grant", {"TTL": str(ttl)})
        return int(answer["ID"]), int(answer.get("TTL", ttl))

    def keepalive(self, lease_id: int) -> int:
        """Hedged (module docstring). When etcd's raft leader dies, a member keeps
        forwarding renewals to it until the election is over; when a link is cut, a member
        behind it never answers: neither may cost more than one hedge delay."""
        answer = self._hedged("/lease/keepalive", {"ID": str(lease_id)})
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
        self._pool.shutdown(wait=False)
        for member in self._members:
            member.close()
