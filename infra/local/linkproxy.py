"""Link proxies: asyncio TCP forwarders that simulate the WAN between sites.

One :class:`LinkProxy` (one per platform, in its own process: ``linkproxy_main``) hosts
many listeners and, per site pair, one mode and one standing base delay (the distance;
see :mod:`infra.local.linkproxy_modes`).

Listeners:

- :meth:`LinkProxy.listener_for` ``(src, dst, dst_host, dst_port)`` — where *we* choose
  the client's target address (router→unit, replication, probes, etcd clients): one
  listener per (source site, destination endpoint). The platform hands each client the
  address for its own (src, dst) pair. Same-site traffic gets the direct address.
- :meth:`LinkProxy.peer_ingress` ``(dst, dst_host, dst_port)`` — etcd peer traffic: a
  member advertises one peer URL to all others, so the source is found per connection
  from the ``X-Server-From`` header of its first HTTP request (member id → site map set
  with :meth:`LinkProxy.set_peer_ids`). Requests without that header (``/version``,
  ``/raft/probing``, lease renewals forwarded to the leader) come from an unknown source:
  they follow the destination's links only when all of them agree (an isolated site),
  else they pass — see ``docs/network.md`` for the limits.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from infra.local.linkproxy_connection import LinkStats, ProxiedConnection, Route
from infra.local.linkproxy_modes import (
    PASS,
    BaseDelay,
    LinkMode,
    link_key,
    server_from,
    unknown_source_base_ms,
    unknown_source_mode,
)

log = logging.getLogger("watertight.linkproxy")

HEAD_LIMIT = 16384
TLS_HANDSHAKE = b"\x16"
"""The first byte of every TLS connection (a handshake record)."""


@dataclass
class _Listener:
    route: Route
    server: asyncio.Server
    address: tuple[str, int]
    connections: set[ProxiedConnection] = field(default_factory=set)


class LinkProxy:
    """Listeners plus link modes. All methods run on the proxy's event loop."""

    def __init__(
        self,
        sites: Iterable[str],
        *,
        host: str = "127.0.0.1",
        rng: random.Random | None = None,
    ) -> None:
        self.sites = tuple(sites)
        self.host = host
        self._rng = rng or random.Random()
        self._modes: dict[tuple[str, str], LinkMode] = {}
        self._base_ms: dict[tuple[str, str], float] = {}
        self._stats: dict[tuple[str, str], LinkStats] = {}
        self._peer_ids: dict[str, str] = {}
        self._listeners: dict[tuple[str | None, str, str, int], _Listener] = {}
        self._changed = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()

    # -- control -------------------------------------------------------------------------

    def check_site(self, site: str) -> None:
        if site not in self.sites:
            raise ValueError(f"unknown site {site!r}; known sites: {', '.join(self.sites)}")

    def mode(self, a: str, b: str) -> LinkMode:
        return self._modes.get(link_key(a, b), PASS)

    def set_mode(self, a: str, b: str, mode: LinkMode) -> None:
        """Set the link between ``a`` and ``b``; existing connections follow at once."""
        self.check_site(a)
        self.check_site(b)
        key = link_key(a, b)
        old = self._modes.get(key, PASS)
        self._modes[key] = mode
        log.info("link %s<->%s: %s -> %s", *key, old.describe(), mode.describe())
        self._notify()

    def set_site_links(self, site: str, mode: LinkMode) -> None:
        """Set every link of ``site`` (isolate it, slow it, heal it)."""
        for other in self.sites:
            if other != site:
                self.set_mode(site, other, mode)

    def heal(self) -> None:
        """Every link back to ``pass``. Base delays stay: they are distance, not faults."""
        self._modes.clear()
        log.info("all links healed (pass); base delays kept")
        self._notify()

    def base_delay_ms(self, a: str, b: str) -> float:
        """The standing one-way delay of the link between ``a`` and ``b`` (0 unless set)."""
        return self._base_ms.get(link_key(a, b), 0.0)

    def set_base_delay(self, a: str, b: str, ms: float) -> None:
        """Set the standing one-way delay of a link; chunks read from now on pay it.

        Raises ``ValueError`` for an unknown site or a delay outside 0–60 000 ms. The
        mode is left alone, and no waiter is woken: no gate depends on the delay.
        """
        self.check_site(a)
        self.check_site(b)
        key = link_key(a, b)
        self._base_ms[key] = BaseDelay(base_delay_ms=ms).base_delay_ms
        log.info("link %s<->%s: base delay %g ms", *key, ms)

    def set_peer_ids(self, ids: Mapping[str, str]) -> None:
        """etcd member id (hex) → site, for peer ingress connections."""
        for site in ids.values():
            self.check_site(site)
        self._peer_ids.update({k.lower(): v for k, v in ids.items()})
        log.info("etcd peer ids: %s", dict(self._peer_ids))
        self._notify()

    def links(self) -> list[dict[str, object]]:
        """Every site pair with its mode, base delay (ms) and counters."""
        rows: list[dict[str, object]] = []
        for i, a in enumerate(self.sites):
            for b in self.sites[i + 1 :]:
                key = link_key(a, b)
                stats = self._stats.get(key, LinkStats())
                rows.append(
                    {
                        "a": key[0],
                        "b": key[1],
                        "mode": self.mode(a, b).model_dump(),
                        "base_delay_ms": self.base_delay_ms(a, b),
                        "stats": vars(stats),
                    }
                )
        return rows

    def _notify(self) -> None:
        event, self._changed = self._changed, asyncio.Event()
        event.set()

    def change_event(self) -> asyncio.Event:
        """Set at the next mode or peer-id change. Take it *before* reading the state."""
        return self._changed

    # -- listeners -----------------------------------------------------------------------

    async def listener_for(
        self, src: str, dst: str, dst_host: str, dst_port: int
    ) -> tuple[str, int]:
        """Address a client in ``src`` dials to reach ``dst_host:dst_port`` in ``dst``.

        Idempotent. Same site → the destination itself (same-site traffic is direct).
        """
        self.check_site(src)
        self.check_site(dst)
        if src == dst:
            return dst_host, dst_port
        return await self._listen(Route(src, dst, dst_host, dst_port))

    async def peer_ingress(self, dst: str, dst_host: str, dst_port: int) -> tuple[str, int]:
        """Address every other etcd member dials to reach ``dst``'s peer port. Idempotent."""
        self.check_site(dst)
        return await self._listen(Route(None, dst, dst_host, dst_port))

    async def _listen(self, route: Route) -> tuple[str, int]:
        key = (route.src, route.dst, route.dst_host, route.dst_port)
        existing = self._listeners.get(key)
        if existing is not None:
            return existing.address
        holder: list[_Listener] = []

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            if task is not None:
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            await self._serve(holder[0], reader, writer)

        server = await asyncio.start_server(handle, self.host, 0, limit=HEAD_LIMIT * 4)
        port = server.sockets[0].getsockname()[1]
        listener = _Listener(route, server, (self.host, port))
        holder.append(listener)
        self._listeners[key] = listener
        log.info(
            "listener %s:%d -> %s %s:%d",
            self.host,
            port,
            route.label,
            route.dst_host,
            route.dst_port,
        )
        return listener.address

    async def close(self) -> None:
        """Stop listening and end every proxied connection."""
        for listener in self._listeners.values():
            listener.server.close()
            for conn in list(listener.connections):
                conn.abort(reset=False)
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._listeners.clear()

    # -- connections ---------------------------------------------------------------------

    def _source(self, route: Route, peer_id: str | None) -> str | None:
        if route.src is not None:
            return route.src
        return self._peer_ids.get(peer_id or "")

    def stats_for(self, src: str | None, dst: str) -> LinkStats:
        if src is None or src == dst:
            return LinkStats()
        return self._stats.setdefault(link_key(src, dst), LinkStats())

    async def _serve(
        self, listener: _Listener, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        route = listener.route
        head = b""
        if route.src is None:
            try:
                head = await asyncio.wait_for(reader.readexactly(1), timeout=30.0)
                # A TLS handshake (etcd peers under `up --tls`) hides the X-Server-From
                # header: the source stays unknown, and the connection is cut only when
                # its destination site is cut off from every other (docs/network.md).
                if head != TLS_HANDSHAKE:
                    head += await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=30.0)
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
                writer.close()
                return
        peer_id = server_from(head) if head else None
        conn = ProxiedConnection(
            proxy=self,
            route=route,
            client=(reader, writer),
            head=head,
            source=lambda: self._source(route, peer_id),
        )
        listener.connections.add(conn)
        try:
            await conn.run()
        finally:
            listener.connections.discard(conn)

    def current_mode(self, src: str | None, dst: str) -> LinkMode:
        if src is None:  # a peer request without X-Server-From
            return unknown_source_mode(self.mode(dst, o) for o in self.sites if o != dst)
        return PASS if src == dst else self.mode(src, dst)

    def current_base_delay_ms(self, src: str | None, dst: str) -> float:
        """Base delay a chunk from ``src`` (None: unknown peer) to ``dst`` pays; same site: 0."""
        if src is None:  # a peer request without X-Server-From: an etcd member sent it
            members = {site for site in self._peer_ids.values() if site != dst}
            return unknown_source_base_ms(self.base_delay_ms(dst, s) for s in members)
        return 0.0 if src == dst else self.base_delay_ms(src, dst)

    def draw(self) -> float:
        return self._rng.random()
