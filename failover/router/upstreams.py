"""The router's connections to unit instances: one keep-alive pool per instance.

One shared client pool for every instance made each request walk every pooled
connection to every instance (httpcore checks each one's state on every request: half
of the router's CPU per write under load, docs/benchmarks.md). A pool per instance
walks only that instance's connections. Pools are made on first use and closed
together; every pool presents this process's certificate when it has one (failover/tls.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

import httpx

from failover.tls import client_verify

PER_INSTANCE = httpx.Limits(max_connections=128, max_keepalive_connections=32)


class Upstreams:
    """``request`` as ``httpx.AsyncClient.request``, through the pool of the URL's
    instance (scheme, host and port)."""

    def __init__(self, timeout: httpx.Timeout, limits: httpx.Limits = PER_INSTANCE) -> None:
        self._timeout, self._limits = timeout, limits
        self._verify = client_verify()
        self._pools: dict[str, httpx.AsyncClient] = {}

    async def request(
        self, method: str, url: str, *, content: bytes, headers: Sequence[tuple[bytes, bytes]]
    ) -> httpx.Response:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        pool = self._pools.get(origin)
        if pool is None:  # no await since the lookup: no other request can race this one
            pool = httpx.AsyncClient(
                timeout=self._timeout, limits=self._limits, verify=self._verify
            )
            self._pools[origin] = pool
        return await pool.request(method, url, content=content, headers=list(headers))

    async def aclose(self) -> None:
        pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            await pool.aclose()
