"""A short-lived TCP relay: connections to ports a previous run advertised are passed on
to where those services listen now.

Restarting a recorded platform (infra/local/etcd_restart.py) needs it for one thing: an
etcd member remembers its peers by the URLs they advertised when the cluster was formed,
and those were the previous link proxy's ingress ports, which a new proxy cannot bind
again. While the bridge relays each old port to the new ingress, the members find each
other, regain their quorum and can be told their new peer URLs; then it closes.

All ports are bound when the bridge is made, before anything else of the restart starts,
so no new listener (the new proxy's, which take ports from the kernel) can take one.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Awaitable, Callable, Mapping, Sequence

from infra.local.ports import LOOPBACK

CHUNK = 65_536
START_TIMEOUT_SECONDS = 5.0

_Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class PeerBridge:
    """Listening sockets on ``ports`` from construction; relaying after :meth:`start`.

    Raises ``OSError`` naming the port when one cannot be bound (nothing stays bound).
    Use as a context manager, or call :meth:`close`.
    """

    def __init__(self, ports: Sequence[int], host: str = LOOPBACK) -> None:
        self.host = host
        self._sockets: dict[int, socket.socket] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        try:
            for port in ports:
                self._sockets[port] = _listening(host, port)
        except OSError:
            self.close()
            raise

    @property
    def ports(self) -> list[int]:
        return sorted(self._sockets)

    def start(self, targets: Mapping[int, tuple[str, int]]) -> None:
        """Relay every connection to one of our ports to ``targets[port]`` (host, port),
        on a background thread, until :meth:`close`."""
        missing = sorted(set(self._sockets) - set(targets))
        if missing:
            raise ValueError(f"no target for bridged ports {missing}")
        ready = threading.Event()
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._serve(dict(targets), ready)),
            name="peer-bridge",
            daemon=True,
        )
        self._thread.start()
        if not ready.wait(START_TIMEOUT_SECONDS):
            raise OSError(f"peer bridge on {self.ports} did not start")

    def close(self) -> None:
        """Stop relaying, end every relayed connection and free the ports. Idempotent."""
        loop, stop, thread = self._loop, self._stop, self._thread
        if loop is not None and stop is not None and thread is not None:
            with contextlib.suppress(RuntimeError):  # the loop already ended
                loop.call_soon_threadsafe(stop.set)
            thread.join(START_TIMEOUT_SECONDS)
        self._loop = self._stop = self._thread = None
        for sock in self._sockets.values():
            sock.close()
        self._sockets.clear()

    def __enter__(self) -> PeerBridge:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    async def _serve(self, targets: dict[int, tuple[str, int]], ready: threading.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        relays: set[asyncio.Task[None]] = set()
        ends: set[asyncio.StreamWriter] = set()

        def relay_to(target: tuple[str, int]) -> _Handler:
            async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
                task = asyncio.current_task()
                if task is not None:
                    relays.add(task)
                    task.add_done_callback(relays.discard)
                await _relay(reader, writer, target, ends)

            return handle

        servers = [
            await asyncio.start_server(relay_to(targets[port]), sock=sock)
            for port, sock in self._sockets.items()
        ]
        ready.set()
        await self._stop.wait()
        for server in servers:
            server.close()
        # Aborting both ends lets every relay return on its own; a cancelled connection
        # handler makes Python 3.11's asyncio.streams log a spurious traceback.
        for end in list(ends):
            end.transport.abort()
        if relays:
            _, stuck = await asyncio.wait(set(relays), timeout=START_TIMEOUT_SECONDS)
            for task in stuck:
                task.cancel()


def _listening(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # Connections the previous run's proxy accepted on this port may linger in TIME_WAIT;
    # on Linux SO_REUSEADDR still refuses a port another socket listens on.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(64)
    except OSError as exc:
        sock.close()
        raise OSError(exc.errno, f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    sock.setblocking(False)
    return sock


async def _relay(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    target: tuple[str, int],
    ends: set[asyncio.StreamWriter],
) -> None:
    """Copy both ways until either side ends; then close both. ``ends`` holds both
    writers meanwhile, for :meth:`PeerBridge.close` to abort."""
    ends.add(writer)
    try:
        far_reader, far_writer = await asyncio.open_connection(*target)
    except OSError:
        ends.discard(writer)
        writer.close()
        return
    ends.add(far_writer)
    pumps = [
        asyncio.create_task(_pump(reader, far_writer)),
        asyncio.create_task(_pump(far_reader, writer)),
    ]
    try:
        await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for pump in pumps:
            pump.cancel()
        await asyncio.gather(*pumps, return_exceptions=True)
        for side in (writer, far_writer):
            ends.discard(side)
            side.close()


async def _pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, OSError):
        while chunk := await source.read(CHUNK):
            sink.write(chunk)
            await sink.drain()
