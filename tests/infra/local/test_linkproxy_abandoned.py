"""Connections abandoned while the link held them are dropped, never replayed on heal.

A client that times out during a blackhole closes its socket. On a real network its
packets die with the connection; the proxy must not connect it onward (or deliver what
it held from it) when the link heals. A client still connected at the heal does get
through. Real loopback sockets, through a real proxy, to a server that records every
connection and byte it receives (and echoes them)."""

from __future__ import annotations

import socket
import socketserver
import struct
import threading
import time
from collections.abc import Iterator

import pytest
from linkproxy_harness import ProxyThread, connect

from infra.local.linkproxy_modes import BLACKHOLE, PASS, LinkMode

PROD, CITY = "production", "same-city"
CLIENTS = 8
SETTLE = 0.5  # after a heal, time for anything the proxy still held to reach the server
HELD = {"blackhole": BLACKHOLE, "drop": LinkMode(kind="drop", drop_fraction=1.0)}


class Recorder(socketserver.ThreadingTCPServer):
    """Echoes, and records the connections it accepted and the bytes it received."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), RecordingEcho)
        self.lock = threading.Lock()
        self.connections = 0
        self.received = b""

    @property
    def address(self) -> tuple[str, int]:
        return "127.0.0.1", self.server_address[1]

    def seen(self) -> tuple[int, bytes]:
        with self.lock:
            return self.connections, self.received


class RecordingEcho(socketserver.BaseRequestHandler):
    server: Recorder

    def handle(self) -> None:
        with self.server.lock:
            self.server.connections += 1
        while data := self.request.recv(65536):
            with self.server.lock:
                self.server.received += data
            self.request.sendall(data)


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    server = Recorder()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def give_up(sock: socket.socket, reset: bool) -> None:
    """Close as a client that timed out: a FIN, or (``reset``) an RST."""
    if reset:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def abandoned(proxy_thread: ProxyThread) -> int:
    rows = proxy_thread.call(proxy_thread.proxy.links)
    row = next(row for row in rows if {row["a"], row["b"]} == {PROD, CITY})
    return int(row["stats"].get("abandoned", 0))


def wait_for_abandoned(proxy_thread: ProxyThread, count: int, timeout: float = 3.0) -> None:
    """Let the proxy see the clients go (the heal comes after they gave up, as in life);
    no assertion here, so code that never abandons fails on what the server received."""
    deadline = time.monotonic() + timeout
    while abandoned(proxy_thread) < count and time.monotonic() < deadline:
        time.sleep(0.02)


def heal_and_settle(proxy_thread: ProxyThread) -> None:
    proxy_thread.call(proxy_thread.proxy.heal)
    time.sleep(SETTLE)


@pytest.mark.parametrize("reset", [False, True], ids=["fin", "rst"])
@pytest.mark.parametrize("mode", list(HELD), ids=list(HELD))
def test_clients_that_give_up_while_held_at_admission_never_reach_the_server(
    proxy_thread: ProxyThread, recorder: Recorder, mode: str, reset: bool
) -> None:
    address = proxy_thread.listener_for(PROD, CITY, *recorder.address)
    proxy_thread.set_mode(PROD, CITY, HELD[mode])
    clients = [connect(address) for _ in range(CLIENTS)]
    for i, sock in enumerate(clients):
        sock.sendall(b"stale request %d\n" % i)
    time.sleep(0.1)  # the requests are in the proxy, held
    for sock in clients:
        give_up(sock, reset)
    wait_for_abandoned(proxy_thread, CLIENTS)
    heal_and_settle(proxy_thread)
    assert recorder.seen() == (0, b"")  # not connected onward, nothing replayed
    assert abandoned(proxy_thread) == CLIENTS


@pytest.mark.parametrize("reset", [False, True], ids=["fin", "rst"])
def test_a_client_that_gives_up_mid_stream_during_a_blackhole_has_its_held_data_dropped(
    proxy_thread: ProxyThread, recorder: Recorder, reset: bool
) -> None:
    address = proxy_thread.listener_for(PROD, CITY, *recorder.address)
    clients = [connect(address) for _ in range(CLIENTS)]
    for sock in clients:
        sock.sendall(b"live")
        assert sock.recv(16) == b"live"  # established through to the server
    proxy_thread.set_mode(PROD, CITY, BLACKHOLE)
    for i, sock in enumerate(clients):
        sock.sendall(b"stale request %d\n" % i)
    time.sleep(0.1)
    for sock in clients:
        give_up(sock, reset)
    wait_for_abandoned(proxy_thread, CLIENTS)
    heal_and_settle(proxy_thread)
    assert recorder.seen() == (CLIENTS, b"live" * CLIENTS)
    assert abandoned(proxy_thread) == CLIENTS


@pytest.mark.parametrize("mode", list(HELD), ids=list(HELD))
def test_a_client_still_connected_across_a_short_hold_at_admission_gets_its_answer(
    proxy_thread: ProxyThread, recorder: Recorder, mode: str
) -> None:
    address = proxy_thread.listener_for(PROD, CITY, *recorder.address)
    proxy_thread.set_mode(PROD, CITY, HELD[mode])
    with connect(address, timeout=0.3) as sock:
        sock.sendall(b"patient")
        with pytest.raises(TimeoutError):
            sock.recv(16)
        assert recorder.seen() == (0, b"")  # held: the server has seen nothing yet
        proxy_thread.set_mode(PROD, CITY, PASS)
        sock.settimeout(2.0)
        assert sock.recv(16) == b"patient"
    assert abandoned(proxy_thread) == 0


def test_a_client_still_connected_across_a_short_blackhole_mid_stream_gets_its_answer(
    proxy_thread: ProxyThread, recorder: Recorder
) -> None:
    address = proxy_thread.listener_for(PROD, CITY, *recorder.address)
    with connect(address, timeout=0.3) as sock:
        sock.sendall(b"first")
        assert sock.recv(16) == b"first"
        proxy_thread.set_mode(PROD, CITY, BLACKHOLE)
        sock.sendall(b"second")
        with pytest.raises(TimeoutError):
            sock.recv(16)
        proxy_thread.call(proxy_thread.proxy.heal)
        sock.settimeout(2.0)
        assert sock.recv(16) == b"second"
    assert recorder.seen() == (1, b"firstsecond")
    assert abandoned(proxy_thread) == 0


def test_a_held_stream_of_many_small_messages_is_still_seen_to_end(
    proxy_thread: ProxyThread, recorder: Recorder
) -> None:
    """The read-ahead is bounded in bytes, not chunks: a peer stream sending heartbeats
    into a blackhole for seconds is read to its end, so its close is seen while held."""
    address = proxy_thread.listener_for(PROD, CITY, *recorder.address)
    with connect(address) as sock:
        sock.sendall(b"live")
        assert sock.recv(16) == b"live"
        proxy_thread.set_mode(PROD, CITY, BLACKHOLE)
        for _ in range(150):
            sock.sendall(b"beat")  # paced: the proxy reads them as separate chunks
            time.sleep(0.002)
    wait_for_abandoned(proxy_thread, 1)
    heal_and_settle(proxy_thread)
    assert recorder.seen() == (1, b"live")
    assert abandoned(proxy_thread) == 1
