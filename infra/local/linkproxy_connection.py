"""One proxied TCP connection: admission, then two pumps gated by its link's mode.

The connection asks its :class:`LinkState` (the :class:`~infra.local.linkproxy.LinkProxy`)
for the current mode and base delay before every chunk, so a change applies to it at once.

While the link holds the connection (a new one held at admission, or chunks held by a
blackhole), the client side is still watched: a client that closes or resets meanwhile
has given up, and the connection is *abandoned* — never connected onward, its held data
never delivered. Otherwise a heal would replay, all at once, every request that clients
had already timed out on (see ``docs/network.md``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from infra.local.linkproxy_modes import (
    Action,
    Admission,
    LinkMode,
    admit,
    chunk_action,
    chunk_delay,
)

log = logging.getLogger("watertight.linkproxy")

CHUNK = 65536
CONNECT_TIMEOUT = 5.0
READ_AHEAD_BYTES = 64 * CHUNK  # per direction: read this far ahead of forwarding, then wait


class ConnectionRefusedByLink(Exception):  # noqa: N818 (a signal, not an error)
    """The link's mode is ``refuse``: reset the connection."""


class ClientGone(Exception):  # noqa: N818 (a signal, not an error)
    """The client closed or reset while the link held its connection: abandon it."""


@dataclass(frozen=True)
class Route:
    """Where a listener forwards to. ``src`` is None for a peer ingress (from header)."""

    src: str | None
    dst: str
    dst_host: str
    dst_port: int

    @property
    def label(self) -> str:
        return f"{self.src or '<peer>'}->{self.dst}"


@dataclass
class LinkStats:
    accepted: int = 0
    refused: int = 0
    held: int = 0
    dropped: int = 0
    reset: int = 0
    chunks: int = 0
    abandoned: int = 0  # held connections whose client gave up: dropped, never replayed


class ReadAhead:
    """One side of a connection, read ahead of forwarding: ``(arrival time, chunk)`` pairs,
    ending with ``b""`` (EOF, or a reset). Bounded in bytes, not in chunks, so a held
    stream of small messages keeps being read and its end is seen; ``ended`` is set the
    moment the side closes or resets, whatever is still queued before it."""

    def __init__(self, reader: asyncio.StreamReader, limit: int = READ_AHEAD_BYTES) -> None:
        self._reader = reader
        self._limit = limit
        self._chunks: deque[tuple[float, bytes]] = deque()
        self._bytes = 0
        self._changed = asyncio.Condition()
        self.ended = asyncio.Event()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                data = await self._reader.read(CHUNK)
            except (ConnectionError, OSError):
                data = b""  # a reset ends the side like an EOF (nothing more will come)
            if not data:
                self.ended.set()
            async with self._changed:
                self._chunks.append((loop.time(), data))
                self._bytes += len(data)
                self._changed.notify_all()
                if not data:
                    return
                await self._changed.wait_for(lambda: self._bytes < self._limit)

    async def get(self) -> tuple[float, bytes]:
        async with self._changed:
            await self._changed.wait_for(lambda: bool(self._chunks))
            received, data = self._chunks.popleft()
            self._bytes -= len(data)
            self._changed.notify_all()
            return received, data


class LinkState(Protocol):
    """What a connection needs from the proxy."""

    def current_mode(self, src: str | None, dst: str) -> LinkMode: ...

    def current_base_delay_ms(self, src: str | None, dst: str) -> float: ...

    def stats_for(self, src: str | None, dst: str) -> LinkStats: ...

    def change_event(self) -> asyncio.Event: ...

    def draw(self) -> float: ...


class ProxiedConnection:
    """One proxied connection: admission, then two pumps gated by the link's mode."""

    def __init__(
        self,
        proxy: LinkState,
        route: Route,
        client: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        head: bytes,
        source: Callable[[], str | None],
    ) -> None:
        self.proxy = proxy
        self.route = route
        self.client = client
        self.head = head
        self.source = source
        self.dropped = False
        self.upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self.from_client = ReadAhead(client[0])

    def mode(self) -> LinkMode:
        return self.proxy.current_mode(self.source(), self.route.dst)

    def stats(self) -> LinkStats:
        return self.proxy.stats_for(self.source(), self.route.dst)

    def delay(self) -> float:
        """Seconds the next chunk waits: the link's base delay plus what its mode adds."""
        base_ms = self.proxy.current_base_delay_ms(self.source(), self.route.dst)
        return chunk_delay(self.mode(), self.proxy.draw(), base_ms)

    async def run(self) -> None:
        arrived = asyncio.get_running_loop().time()  # the peer ingress has just read the head
        reading: asyncio.Future[None] | None = None
        try:
            if not self._admit():
                return
            # Read the client from the start, held or not: its close must be seen at once.
            reading = asyncio.ensure_future(self.from_client.run())
            await self._gate()
            self.upstream = await self._connect()
            if self.upstream is None:
                return
            if self.head:
                # The head is a forwarded chunk like any other: it pays the link's delay
                # (else a bodiless probe would cross the "WAN" one way for free).
                await self._wait_until(arrived + self.delay())
                self.upstream[1].write(self.head)
            await self._forward()
        except ConnectionRefusedByLink:
            self.stats().reset += 1
            self.abort(reset=True)
        except ClientGone:
            self.stats().abandoned += 1
            log.debug("%s: the client gave up while held; abandoned", self.route.label)
        finally:
            if reading is not None:
                reading.cancel()
            self.abort(reset=False)

    def _admit(self) -> bool:
        admission = admit(self.mode(), self.proxy.draw())
        stats = self.stats()
        stats.accepted += 1
        if admission is Admission.REFUSE:
            stats.refused += 1
            log.debug("%s: refused a new connection", self.route.label)
            self.abort(reset=True)
            return False
        if admission is Admission.DROP:
            stats.dropped += 1
            self.dropped = True
        elif admission is Admission.HOLD:
            stats.held += 1
        return True

    async def _wait_until(self, due: float) -> None:
        """Sleep until loop time ``due``; then gate again (the link may have changed)."""
        loop = asyncio.get_running_loop()
        if due > loop.time():
            await asyncio.sleep(due - loop.time())
            await self._gate()

    async def _gate(self) -> None:
        """Return when the link forwards; wait while it holds; raise when it refuses, or
        (:class:`ClientGone`) when the client has closed or reset while held."""
        while True:
            changed = self.proxy.change_event()
            action = chunk_action(self.mode(), self.dropped)
            if action is Action.FORWARD:
                return
            if action is Action.CLOSE:
                raise ConnectionRefusedByLink
            if self.from_client.ended.is_set():
                raise ClientGone
            await _first_of(changed, self.from_client.ended)

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        try:
            return await asyncio.wait_for(
                asyncio.open_connection(self.route.dst_host, self.route.dst_port),
                timeout=CONNECT_TIMEOUT,
            )
        except (OSError, TimeoutError) as exc:
            log.debug("%s: destination unreachable: %s", self.route.label, exc)
            self.abort(reset=True)  # the client sees what it would see from a dead server
            return None

    async def _forward(self) -> None:
        assert self.upstream is not None
        from_upstream = ReadAhead(self.upstream[0])
        reading = asyncio.ensure_future(from_upstream.run())
        tasks = [
            asyncio.ensure_future(self._pump(self.from_client, self.upstream[1])),
            asyncio.ensure_future(self._pump(from_upstream, self.client[1])),
            asyncio.ensure_future(self._watch_refuse()),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
        finally:
            reading.cancel()
            for task in tasks:
                task.cancel()

    async def _watch_refuse(self) -> None:
        """Reset an idle connection as soon as its link turns to ``refuse``."""
        while True:
            await self.proxy.change_event().wait()
            if chunk_action(self.mode(), self.dropped) is Action.CLOSE:
                raise ConnectionRefusedByLink

    async def _pump(self, source: ReadAhead, writer: asyncio.StreamWriter) -> None:
        """Forward one direction. Reading runs ahead of writing, and each chunk is due at
        its *arrival* plus its delay (never before the previous one: order is kept), so
        waits overlap and a delay costs latency, not throughput. A chunk held by the link
        is dropped with the connection if the client gives up meanwhile (``_gate``)."""
        last_due = 0.0
        try:
            while True:
                received, data = await source.get()
                if not data:
                    return
                await self._gate()
                due = max(received + self.delay(), last_due)
                last_due = due
                await self._wait_until(due)
                writer.write(data)
                self.stats().chunks += 1
                await writer.drain()
        except (ConnectionError, OSError):
            return

    def abort(self, reset: bool) -> None:
        """Close both sides; ``reset``: send a TCP RST instead of a clean FIN."""
        for pair in (self.client, self.upstream):
            if pair is None:
                continue
            writer = pair[1]
            if reset:
                sock = writer.get_extra_info("socket")
                if sock is not None:
                    with contextlib.suppress(OSError):
                        sock.setsockopt(
                            socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                        )
                writer.transport.abort()
            else:
                writer.close()


async def _first_of(*events: asyncio.Event) -> None:
    """Wait until any of ``events`` is set."""
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
