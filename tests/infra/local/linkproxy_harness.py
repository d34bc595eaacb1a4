"""Test harness: a link proxy on its own event loop thread and an echo server."""

from __future__ import annotations

import asyncio
import random
import socket
import socketserver
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from infra.local.linkproxy import LinkProxy
from infra.local.linkproxy_modes import LinkMode

T = TypeVar("T")
SITES = ("production", "same-city", "remote-dr")


class ProxyThread:
    """A :class:`LinkProxy` running on an event loop in a daemon thread."""

    def __init__(self, seed: int = 7) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self.proxy: LinkProxy = self.run(self._make(seed))

    async def _make(self, seed: int) -> LinkProxy:
        return LinkProxy(SITES, rng=random.Random(seed))

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=10)

    def call(self, fn: Any, *args: Any) -> Any:
        async def invoke() -> Any:
            return fn(*args)

        return self.run(invoke())

    def set_mode(self, a: str, b: str, mode: LinkMode) -> None:
        self.call(self.proxy.set_mode, a, b, mode)

    def listener_for(self, src: str, dst: str, host: str, port: int) -> tuple[str, int]:
        return self.run(self.proxy.listener_for(src, dst, host, port))

    def close(self) -> None:
        self.run(self.proxy.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)


class Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(65536):
            self.request.sendall(data)


class EchoServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def connect(address: tuple[str, int], timeout: float = 2.0) -> socket.socket:
    return socket.create_connection(address, timeout=timeout)
