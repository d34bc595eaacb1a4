"""The peer bridge relays its ports to their targets, refuses a taken port, and closing it
ends every relayed connection and frees the ports."""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Iterator

import pytest

from infra.local.peer_bridge import PeerBridge
from infra.local.ports import free_ports, port_is_free


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(4096):
            self.request.sendall(data)


class _EchoServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


@pytest.fixture
def echo() -> Iterator[tuple[str, int]]:
    server = _EchoServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield ("127.0.0.1", server.server_address[1])
    server.shutdown()
    server.server_close()


def _exchange(port: int, payload: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(payload)
        received = b""
        while len(received) < len(payload):
            chunk = conn.recv(4096)
            if not chunk:
                break
            received += chunk
        return received


def test_a_connection_to_a_bridged_port_reaches_its_target_both_ways(
    echo: tuple[str, int],
) -> None:
    ports = free_ports(2)
    with PeerBridge(ports) as bridge:
        bridge.start({port: echo for port in ports})
        for port in ports:
            assert _exchange(port, b"raft " * 20_000) == b"raft " * 20_000


def test_a_port_someone_listens_on_is_refused_by_number_and_nothing_stays_bound() -> None:
    free, taken_port = free_ports(2)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", taken_port))
        taken.listen()
        with pytest.raises(OSError, match=f"127.0.0.1:{taken_port}"):
            PeerBridge([free, taken_port])
    assert port_is_free(free)


def test_closing_ends_relayed_connections_quietly_and_frees_the_ports(
    echo: tuple[str, int], caplog: pytest.LogCaptureFixture
) -> None:
    (port,) = free_ports(1)
    bridge = PeerBridge([port])
    bridge.start({port: echo})
    conn = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        conn.sendall(b"ping")
        assert conn.recv(4) == b"ping"
        bridge.close()
        assert conn.recv(4) == b""  # the relay closed its side
    finally:
        conn.close()
    assert port_is_free(port)
    bridge.close()  # idempotent
    assert [r.getMessage() for r in caplog.records if r.name == "asyncio"] == []


def test_every_bridged_port_needs_a_target() -> None:
    ports = free_ports(2)
    with PeerBridge(ports) as bridge, pytest.raises(ValueError, match=str(ports[1])):
        bridge.start({ports[0]: ("127.0.0.1", 1)})
