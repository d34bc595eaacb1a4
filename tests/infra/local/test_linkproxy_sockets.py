"""Each link mode on real loopback sockets, through a real proxy and an echo server."""

from __future__ import annotations

import contextlib
import socket
import time

import pytest
from linkproxy_harness import ProxyThread, connect

from infra.local.linkproxy_modes import BLACKHOLE, PASS, REFUSE, LinkMode

PROD, CITY, DR = "production", "same-city", "remote-dr"


def echo_roundtrip(sock: socket.socket, payload: bytes = b"ping") -> bytes:
    sock.sendall(payload)
    received = b""
    while len(received) < len(payload):
        chunk = sock.recv(65536)
        if not chunk:
            break
        received += chunk
    return received


def test_pass_forwards_both_directions(
    proxy_thread: ProxyThread, echo_server: tuple[str, int]
) -> None:
    address = proxy_thread.listener_for(PROD, CITY, *echo_server)
    with connect(address) as sock:
        assert echo_roundtrip(sock, b"hello" * 1000) == b"hello" * 1000


def test_same_site_traffic_gets_the_direct_address(
    proxy_thread: ProxyThread, echo_server: tuple[str, int]
) -> None:
    assert proxy_thread.listener_for(PROD, PROD, *echo_server) == echo_server


def test_listener_for_is_idempotent_per_source_and_destination(
    proxy_thread: ProxyThread, echo_server: tuple[str, int]
) -> None:
    first = proxy_thread.listener_for(PROD, CITY, *echo_server)
    assert proxy_thread.listener_for(PROD, CITY, *echo_server) == first
    assert proxy_thread.listener_for(DR, CITY, *echo_server) != first


def test_blackhole_makes_new_connections_time_out(
    proxy_thread: ProxyThread, echo_server: tuple[str, int]
) -> None:
    address = proxy_thread.listener_for(PROD, CITY, *echo_server)
    proxy_thread.set_mode(PROD, CITY, BLACKHOLE)
    with connect(address, timeout=0.5) as sock, pytest.raises(TimeoutError):
        echo_roundtrip(sock)


def test_blackhole_freezes_existing_connections_and_heal_delivers_the_held_data(
    proxy_thread: ProxyThread, echo_server: tuple[str, int]
) -> None:
    address = proxy_thread.listener_for(PROD, CITY, *echo_server)
    with connect(address, timeout=0.5) as sock:
        assert echo_roundtrip(sock) == b"ping"
        proxy_thread.set_mode(CITY, PROD, BLACKHOLE)  # symmetric: either order
        with pytest.raises(TimeoutError):
            echo_roundtrip(sock, b"held")
        proxy_thread.set_mode(PROD, CITY, PASS)
        sock.settimeout(2.0)
        assert sock.recv(16) == b"held"


def test_refuse_resets_new_connections(
    proxy_thread: ProxyThread, echo_server: tuple[str, int]
) -> None:
    address = proxy_thread.listener_for(PROD, DR, *echo_server)
    proxy_thread.set_mode(PROD, DR, REFUSE)
    with contextlib.suppress(ConnectionResetError), connect(address) as sock:
        assert echo_roundtrip(sock) == b""  # reset while connecting, sending or reading


def test_refuse_resets_existing_connections(
    proxy_thread: ProxyThread, echo_server: tuple[str, int]
) -> None:
    address = proxy_thread.listener_for(PROD, DR, *echo_server)
    with connect(address) as sock:
        assert echo_roundtrip(sock) == b"ping"
        proxy_thread.set_mode(PROD, DR, REFUSE)
        time.sleep(0.1)
        with contextlib.suppress(ConnectionResetError, BrokenPipeError):
            assert echo_roundtrip(sock) == b""


def test_latency_makes_round_trips_slower_than_without(
    proxy_thread: ProxyThread, echo_server: tuple[str, int]
) -> None:
    address = proxy_thread.listener_for(CITY, DR, *echo_server)

    def best_of_three() -> float:
        times = []
        with connect(address) as sock:
            for _ in range(3):
                started = time.perf_counter()
                echo_roundtrip(sock)
                times.append(time.perf_counter() - started)
        return min(times)

    baseline = best_of_three()
    proxy_thread.set_mode(CITY, DR, LinkMode(kind="latency", latency_ms=100, jitter_ms=10))
    assert best_of_three() > baseline


def test_drop_holds_a_fraction_of_new_connections_and_lets_the_rest_through(
    proxy_thread: ProxyThread, echo_server: tuple[str, int]
) -> None:
    address = proxy_thread.listener_for(PROD, CITY, *echo_server)
    proxy_thread.set_mode(PROD, CITY, LinkMode(kind="drop", drop_fraction=0.5))
    passed = held = 0
    for _ in range(20):
        with connect(address, timeout=0.2) as sock:
            try:
                assert echo_roundtrip(sock) == b"ping"
                passed += 1
            except TimeoutError:
                held += 1
    stats = proxy_thread.call(proxy_thread.proxy.links)
    dropped = next(row["stats"]["dropped"] for row in stats if {row["a"], row["b"]} == {PROD, CITY})
    assert held == dropped
    assert 0 < held < 20
    assert passed + held == 20
