"""How a drill talks to the router: the port and its two adapters.

The port (:class:`RouterTransport`) is two calls: post a write (a body to a URL with
headers: the status, the body and the ``Retry-After`` header) and get one back (the
read-back: the status and the body). Both raise :class:`TimeoutError` when the router
was too slow, :class:`ConnectionError` when it could not be reached or did not answer.
The drill's own timeout (the whole exchange, the wait for a connection included) is the
load generator's, around the call.

- :class:`KeepAliveTransport`, what drills use: the asyncio keep-alive client
  (failover/keepalive_asyncio.py). At 50 writes/s httpx took 71 % of the drill runner's
  CPU, 0.67 of a core on a 2-core machine that also runs the platform: the load
  generator fell behind its own schedule, and its latency (measured from the intended
  send time) blamed the platform for it. Reading back 20,000 writes after a drill at
  500 writes/s through httpx kept 0.6 of a core busy for about a minute
  (docs/benchmarks.md).
- :class:`HttpxTransport`: an ``httpx.AsyncClient``, for the pure-logic tests whose fake
  router is an httpx mock transport.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import httpx

from failover.keepalive_asyncio import Answer, AsyncKeepAliveClient, Timeouts, UpstreamError

WriteAnswer = tuple[int, bytes, str | None]
"""Status, body, ``Retry-After`` (None when absent)."""


ReadAnswer = tuple[int, bytes]
"""Status, body."""


class RouterTransport(Protocol):
    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> WriteAnswer:
        """Post ``body`` (JSON) to ``url``; raises TimeoutError or ConnectionError."""
        ...

    async def get(self, url: str) -> ReadAnswer:
        """Get ``url``; raises TimeoutError or ConnectionError."""
        ...

    async def aclose(self) -> None: ...


class KeepAliveTransport:
    """:class:`RouterTransport` over kept-alive connections to the router."""

    def __init__(self, timeout_seconds: float) -> None:
        self._client = AsyncKeepAliveClient(Timeouts.each(timeout_seconds))

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> WriteAnswer:
        sent = [(b"content-type", b"application/json")]
        sent += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        answer = await self._request("POST", url, body, sent)
        return answer.status, answer.body, answer.header("retry-after")

    async def get(self, url: str) -> ReadAnswer:
        answer = await self._request("GET", url, b"", [])
        return answer.status, answer.body

    async def _request(
        self, method: str, url: str, body: bytes, headers: list[tuple[bytes, bytes]]
    ) -> Answer:
        try:
            return await self._client.request(method, url, content=body, headers=headers)
        except UpstreamError as exc:
            if exc.timed_out:
                raise TimeoutError(str(exc)) from exc
            raise ConnectionError(str(exc)) from exc

    async def aclose(self) -> None:
        await self._client.aclose()


class HttpxTransport:
    """:class:`RouterTransport` over an ``httpx.AsyncClient`` (closed by its owner)."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> WriteAnswer:
        sent = {"content-type": "application/json", **headers}
        answer = await self._request("POST", url, body, sent)
        return answer.status_code, answer.content, answer.headers.get("retry-after")

    async def get(self, url: str) -> ReadAnswer:
        answer = await self._request("GET", url, b"", {})
        return answer.status_code, answer.content

    async def _request(
        self, method: str, url: str, body: bytes, headers: Mapping[str, str]
    ) -> httpx.Response:
        try:
            return await self._client.request(method, url, content=body, headers=headers)
        except httpx.TimeoutException as exc:
            raise TimeoutError(str(exc)) from exc
        except httpx.TransportError as exc:
            raise ConnectionError(str(exc)) from exc

    async def aclose(self) -> None:
        return None
