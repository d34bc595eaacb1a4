"""Fixtures for the local platform tests: a link proxy on a thread, an echo server behind
it, and a supervisor rooted in a temporary state dir."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from linkproxy_harness import Echo, EchoServer, ProxyThread

from infra.local.supervisor import Supervisor


@pytest.fixture
def proxy_thread() -> Iterator[ProxyThread]:
    proxy = ProxyThread()
    yield proxy
    proxy.close()


@pytest.fixture
def echo_server() -> Iterator[tuple[str, int]]:
    server = EchoServer(("127.0.0.1", 0), Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield ("127.0.0.1", server.server_address[1])
    server.shutdown()
    server.server_close()


@pytest.fixture
def supervisor(tmp_path: Path) -> Iterator[Supervisor]:
    sup = Supervisor(tmp_path / "state")
    yield sup
    sup.stop_all(grace=1.5)
