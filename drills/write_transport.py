"""How the load generator posts a write: the port and its two adapters.

The port (:class:`WriteTransport`) is one call: post a body to a URL with headers and
return the status, the body and the ``Retry-After`` header; raise :class:`TimeoutError`
when the router was too slow, :class:`ConnectionError` when it could not be reached or
did not answer. The drill's own timeout (the whole exchange, the wait for a connection
included) is the load generator's, around the call.

- :class:`KeepAliveTransport`, what drills use: the asyncio keep-alive client
  (failover/keepalive_asyncio.py). At 50 writes/s httpx took 71 % of the drill runner's
  CPU, 0.67 of a core on a 2-core machine that also runs the platform: the load
  generator fell behind its own schedule, and its latency (measured from the intended
  send time) blamed the platform for it (docs/benchmarks.md).
- :class:`HttpxTransport`: an ``httpx.AsyncClient``, for the pure-logic tests whose fake
  router is an httpx mock transport.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import httpx

from failover.keepalive_asyncio import AsyncKeepAliveClient, Timeouts, UpstreamError

WriteAnswer = tuple[int, bytes, str | None]
"""Status, body, ``Retry-After`` (None when absent)."""


class WriteTransport(Protocol):
    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> WriteAnswer:
        """Post ``body`` (JSON) to ``url``; raises TimeoutError or ConnectionError."""
        ...

    async def aclose(self) -> None: ...


class KeepAliveTransport:
    """:class:`WriteTransport` over kept-alive connections to the router."""

    def __init__(self, timeout_seconds: float) -> None:
        self._client = AsyncKeepAliveClient(Timeouts.each(timeout_seconds))

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> WriteAnswer:
        sent = [(b"content-type", b"application/json")]
        sent += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        try:
            answer = await self._client.request("POST", url, content=body, headers=sent)
        except UpstreamError as exc:
            if exc.timed_out:
                raise TimeoutError(str(exc)) from exc
            raise ConnectionError(str(exc)) from exc
        return answer.status, answer.body, answer.header("retry-after")

    async def aclose(self) -> None:
        await self._client.aclose()


class HttpxTransport:
    """:class:`WriteTransport` over an ``httpx.AsyncClient`` (closed by its owner)."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> WriteAnswer:
        sent = {"content-type": "application/json", **headers}
        try:
            answer = await self._client.post(url, content=body, headers=sent)
        except httpx.TimeoutException as exc:
            raise TimeoutError(str(exc)) from exc
        except httpx.TransportError as exc:
            raise ConnectionError(str(exc)) from exc
        return answer.status_code, answer.content, answer.headers.get("retry-after")

    async def aclose(self) -> None:
        return None
