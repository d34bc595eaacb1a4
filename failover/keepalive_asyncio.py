"""A keep-alive HTTP/1.1 client on asyncio streams, for the event loops that send many
small requests: the router (to unit instances) and the drills' load generator (to the
router), a request per card transaction each, and the observers' probes (to every unit
instance and etcd member, every probe interval). A pool of kept connections per peer;
the wire is :mod:`failover.http1_wire`.

With httpx, more than half of the router's CPU per write, and 71 % of a drill runner's
at 50 writes/s, went into the client's machinery around each request: its pool's
bookkeeping, the request and response objects, the auth and redirect flows
(docs/benchmarks.md). These callers need none of it: send the bytes, read one answer,
keep the connection for the next request.

Contract of :meth:`AsyncKeepAliveClient.request`: returns the peer's :class:`Answer`
(any status), or raises an :class:`UpstreamError` whose ``kind`` says what failed
(connect, send or read failed or timed out, no free connection, a bad answer) and whose
``timed_out`` says whether the peer was too slow rather than gone. A kept connection
that turns out closed by the peer before one byte of the answer (its keep-alive expiry)
is replaced and the request sent once more: so **only requests that are safe to repeat**
go through this client: reads, and writes under an Idempotency-Key that the unit
service never posts twice (docs/design.md §5). A request cancelled mid-way (its caller
gave up) closes its connection instead of keeping it.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from failover.http1_wire import (
    MAX_HEAD_BYTES,
    Answer,
    BadAnswerError,
    ClosedBeforeAnswerError,
    receive,
    request_head,
)
from failover.tls import client_context

__all__ = ["Answer", "AsyncKeepAliveClient", "Timeouts", "UpstreamError"]

#: Connections open at once to one peer; more requests wait (``Timeouts.pool``).
MAX_CONNECTIONS = 128
#: Idle connections kept per peer: as many as may be open. A client that has this many
#: requests out at once needs as many connections again next moment; a lower cap closed
#: one connection per answer beyond it and opened another for the next request, a TCP
#: handshake and a server-side connection set-up each time (a drill's load generator,
#: up to 96 writes in flight, spent a sixth of its CPU connecting; docs/benchmarks.md).
MAX_IDLE = MAX_CONNECTIONS
#: An idle connection older than this is closed rather than used: well under our
#: servers' keep-alive (30 s: the unit service, the router), so the peer is never
#: closing it as we send.
IDLE_EXPIRY_SECONDS = 5.0


@dataclass(frozen=True)
class Timeouts:
    """Seconds allowed to connect (TLS included), to send a request, to read its whole
    answer, and to wait for a free connection when an peer has ``MAX_CONNECTIONS``."""

    connect: float
    write: float
    read: float
    pool: float

    @classmethod
    def each(cls, seconds: float) -> Timeouts:
        return cls(seconds, seconds, seconds, seconds)


class UpstreamError(Exception):
    """The peer did not answer; ``kind`` says how (one of :data:`KINDS`) and
    ``timed_out`` whether it was too slow rather than gone."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind, self.timed_out = kind, kind in TIMED_OUT

    @property
    def refused(self) -> bool:
        """Nobody listened: the connection was refused (a fast failure, not a slow one)."""
        return self.kind == CONNECT_FAILED and isinstance(self.__cause__, ConnectionRefusedError)


CONNECT_FAILED, CONNECT_TIMEOUT = "connect failed", "connect timed out"
SEND_FAILED, SEND_TIMEOUT = "send failed", "send timed out"
READ_FAILED, READ_TIMEOUT = "read failed", "read timed out"
NO_CONNECTION, BAD_ANSWER = "no free connection", "bad answer"
KINDS = (CONNECT_FAILED, CONNECT_TIMEOUT, SEND_FAILED, SEND_TIMEOUT, READ_FAILED, READ_TIMEOUT,
         NO_CONNECTION, BAD_ANSWER)  # fmt: skip
TIMED_OUT = frozenset({CONNECT_TIMEOUT, SEND_TIMEOUT, READ_TIMEOUT, NO_CONNECTION})


@dataclass
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    idle_since: float = 0.0

    def close(self) -> None:
        self.writer.close()


@dataclass
class _Pool:
    host: str
    port: int
    tls: ssl.SSLContext | None
    slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(MAX_CONNECTIONS))
    idle: list[_Connection] = field(default_factory=list)


class _StaleConnectionError(Exception):
    """A kept connection the peer had closed before answering."""


class AsyncKeepAliveClient:
    """Pools of kept-alive connections, one per peer (scheme, host and port); made on
    first use, closed together by :meth:`aclose`. Every https connection presents this
    process's certificate when it has one (failover/tls.py). Use from one event loop."""

    def __init__(self, timeouts: Timeouts, clock: Callable[[], float] = time.monotonic) -> None:
        self._timeouts, self._clock = timeouts, clock
        self._tls = client_context()
        self._pools: dict[tuple[str, str, int | None], _Pool] = {}

    async def request(
        self, method: str, url: str, *, content: bytes, headers: Sequence[tuple[bytes, bytes]]
    ) -> Answer:
        """Send one request and read its answer (module docstring for the contract)."""
        parts = urlsplit(url)
        pool = self._pool(parts.scheme, parts.hostname or "", parts.port)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        data = request_head(method, target, parts.netloc, headers, len(content)) + content
        try:
            async with asyncio.timeout(self._timeouts.pool):
                await pool.slots.acquire()
        except TimeoutError:
            raise UpstreamError(NO_CONNECTION, f"to {parts.netloc}") from None
        try:
            kept = self._take_idle(pool)
            if kept is not None:
                try:
                    return await self._exchange(pool, kept, method, data, fresh=False)
                except _StaleConnectionError:
                    pass
            fresh = await self._connect(pool)
            return await self._exchange(pool, fresh, method, data, fresh=True)
        finally:
            pool.slots.release()

    async def aclose(self) -> None:
        pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            idle, pool.idle = pool.idle, []
            for connection in idle:
                connection.close()

    def _pool(self, scheme: str, host: str, port: int | None) -> _Pool:
        key = (scheme, host, port)
        pool = self._pools.get(key)
        if pool is None:
            tls = (self._tls or ssl.create_default_context()) if scheme == "https" else None
            pool = _Pool(host, port or (443 if tls else 80), tls)
            self._pools[key] = pool
        return pool

    def _take_idle(self, pool: _Pool) -> _Connection | None:
        oldest = self._clock() - IDLE_EXPIRY_SECONDS
        while pool.idle:
            connection = pool.idle.pop()
            if connection.idle_since >= oldest and not connection.reader.at_eof():
                return connection
            connection.close()
        return None

    async def _connect(self, pool: _Pool) -> _Connection:
        where = f"{pool.host}:{pool.port}"
        try:
            async with asyncio.timeout(self._timeouts.connect):
                reader, writer = await asyncio.open_connection(
                    pool.host, pool.port, ssl=pool.tls, limit=MAX_HEAD_BYTES
                )
        except TimeoutError:
            raise UpstreamError(
                CONNECT_TIMEOUT, f"{where}: over {self._timeouts.connect} s"
            ) from None
        except OSError as exc:  # ssl.SSLError is one too
            raise UpstreamError(CONNECT_FAILED, f"{where}: {exc!r}") from exc
        return _Connection(reader, writer)

    async def _exchange(
        self, pool: _Pool, connection: _Connection, method: str, data: bytes, *, fresh: bool
    ) -> Answer:
        """One request on ``connection``, kept for the next one when the peer allows;
        closed on any failure or cancellation. Raises :class:`_StaleConnectionError` for a kept
        (not ``fresh``) connection that the peer had closed."""
        keep = False
        try:
            try:
                async with asyncio.timeout(self._timeouts.write):
                    connection.writer.write(data)
                    await connection.writer.drain()
            except TimeoutError:
                raise UpstreamError(SEND_TIMEOUT, f"{pool.host}:{pool.port}") from None
            except OSError as exc:
                if not fresh:
                    raise _StaleConnectionError() from exc
                raise UpstreamError(SEND_FAILED, f"{pool.host}:{pool.port}: {exc!r}") from exc
            answer, keep = await self._read(pool, connection, method, fresh)
            return answer
        finally:
            if keep:
                connection.idle_since = self._clock()
                if len(pool.idle) < MAX_IDLE:
                    pool.idle.append(connection)
                else:
                    connection.close()
            else:
                connection.close()

    async def _read(
        self, pool: _Pool, connection: _Connection, method: str, fresh: bool
    ) -> tuple[Answer, bool]:
        where = f"{pool.host}:{pool.port}"
        try:
            async with asyncio.timeout(self._timeouts.read):
                return await receive(connection.reader, method)
        except TimeoutError:
            raise UpstreamError(
                READ_TIMEOUT, f"{where}: no answer in {self._timeouts.read} s"
            ) from None
        except ClosedBeforeAnswerError as exc:
            if not fresh:
                raise _StaleConnectionError() from exc
            raise UpstreamError(READ_FAILED, f"{where} closed without answering") from exc
        except asyncio.IncompleteReadError as exc:
            raise UpstreamError(READ_FAILED, f"{where} closed mid-answer") from exc
        except BadAnswerError as exc:
            raise UpstreamError(BAD_ANSWER, f"{where}: {exc}") from exc
        except (ConnectionResetError, BrokenPipeError) as exc:
            if not fresh:  # reset before the answer: the peer had dropped it
                raise _StaleConnectionError() from exc
            raise UpstreamError(READ_FAILED, f"{where}: {exc!r}") from exc
        except OSError as exc:
            raise UpstreamError(READ_FAILED, f"{where}: {exc!r}") from exc
