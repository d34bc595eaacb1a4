"""A link's standing base delay on real loopback sockets: every crossing pays it, in every
mode that forwards, and only a lower bound on the round trip is asserted (the machine
may be slow; it can never be faster than the distance)."""

from __future__ import annotations

import socket
import time

import pytest
from linkproxy_harness import ProxyThread, connect

from failover.topology import default_topology
from infra.local.linkproxy_modes import BLACKHOLE, PASS, LinkMode
from infra.local.platform import site_link_delays

PROD, CITY, DR = "production", "same-city", "remote-dr"
BASE_MS = 40.0
ROUND_TRIP = 2 * BASE_MS / 1000.0  # a request and its answer each cross the link once


def timed_echo(sock: socket.socket, payload: bytes = b"ping") -> float:
    """Seconds from sending ``payload`` to having all of it back."""
    started = time.perf_counter()
    sock.sendall(payload)
    received = b""
    while len(received) < len(payload):
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("the proxy closed the connection")
        received += chunk
    assert received == payload
    return time.perf_counter() - started


def with_base_delay(proxy_thread: ProxyThread, a: str, b: str, ms: float) -> None:
    proxy_thread.call(proxy_thread.proxy.set_base_delay, a, b, ms)


def link_row(proxy_thread: ProxyThread, a: str, b: str) -> dict[str, object]:
    rows = proxy_thread.call(proxy_thread.proxy.links)
    return next(row for row in rows if {row["a"], row["b"]} == {a, b})


def test_every_round_trip_over_a_link_with_a_base_delay_pays_it_both_ways(
    proxy_thread: ProxyThread, echo_server: tuple[str, int]
) -> None:
    with_base_delay(proxy_thread, PROD, DR, BASE_MS)
    with connect(proxy_thread.listener_for(PROD, DR, *echo_server)) as sock:
        assert min(timed_echo(sock) for _ in range(3)) >= ROUND_TRIP


def test_a_base_delay_is_symmetric_and_shown_in_the_link_table(
    proxy_thread: ProxyThread, echo_server: tuple[str, int]
) -> None:
    with_base_delay(proxy_thread, DR, PROD, BASE_MS)
    assert link_row(proxy_thread, PROD, DR)["base_delay_ms"] == BASE_MS
    assert link_row(proxy_thread, PROD, CITY)["base_delay_ms"] == 0.0
    with connect(proxy_thread.listener_for(DR, PROD, *echo_server)) as sock:
        assert timed_echo(sock) >= ROUND_TRIP


def test_heal_and_pass_keep_the_base_delay_while_blackhole_still_holds(
    proxy_thread: ProxyThread, echo_server: tuple[str, int]
) -> None:
    with_base_delay(proxy_thread, PROD, CITY, BASE_MS)
    with connect(proxy_thread.listener_for(PROD, CITY, *echo_server), timeout=0.5) as sock:
        proxy_thread.set_mode(PROD, CITY, BLACKHOLE)
        with pytest.raises(TimeoutError):
            timed_echo(sock, b"held")
        proxy_thread.set_mode(PROD, CITY, PASS)
        sock.settimeout(2.0)
        assert sock.recv(16) == b"held"
        assert timed_echo(sock) >= ROUND_TRIP
        proxy_thread.set_mode(PROD, CITY, BLACKHOLE)
        proxy_thread.call(proxy_thread.proxy.heal)
        assert timed_echo(sock) >= ROUND_TRIP
    assert link_row(proxy_thread, PROD, CITY)["base_delay_ms"] == BASE_MS


def test_latency_adds_on_top_of_the_base_delay(
    proxy_thread: ProxyThread, echo_server: tuple[str, int]
) -> None:
    with_base_delay(proxy_thread, CITY, DR, BASE_MS)
    proxy_thread.set_mode(CITY, DR, LinkMode(kind="latency", latency_ms=30))
    with connect(proxy_thread.listener_for(CITY, DR, *echo_server)) as sock:
        assert timed_echo(sock) >= ROUND_TRIP + 2 * 0.030


def test_a_peer_request_pays_the_base_delay_from_its_first_byte(
    proxy_thread: ProxyThread, echo_server: tuple[str, int]
) -> None:
    with_base_delay(proxy_thread, PROD, DR, BASE_MS)
    proxy_thread.call(proxy_thread.proxy.set_peer_ids, {"a1": PROD})
    address = proxy_thread.run(proxy_thread.proxy.peer_ingress(DR, *echo_server))
    head = b"GET /raft/stream/msgappv2/1 HTTP/1.1\r\nX-Server-From: a1\r\n\r\n"
    with connect(address) as sock:  # the ingress reads this head before forwarding it
        assert timed_echo(sock, head) >= ROUND_TRIP


def test_a_bad_base_delay_or_site_is_refused_and_the_link_keeps_its_delay(
    proxy_thread: ProxyThread,
) -> None:
    with_base_delay(proxy_thread, PROD, DR, BASE_MS)
    for site, ms in ((DR, -1.0), (DR, float("nan")), ("mars", 1.0)):
        with pytest.raises(ValueError):
            with_base_delay(proxy_thread, PROD, site, ms)
    assert link_row(proxy_thread, PROD, DR)["base_delay_ms"] == BASE_MS


def test_a_peer_of_unknown_origin_pays_the_least_delay_from_a_member_site(
    proxy_thread: ProxyThread,
) -> None:
    proxy = proxy_thread.proxy
    with_base_delay(proxy_thread, PROD, DR, 15.0)
    with_base_delay(proxy_thread, CITY, DR, 15.0)
    with_base_delay(proxy_thread, PROD, CITY, 1.0)
    assert proxy_thread.call(proxy.current_base_delay_ms, None, DR) == 0.0  # no member known
    proxy_thread.call(proxy.set_peer_ids, {"a1": PROD, "b2": CITY, "c3": DR})
    assert proxy_thread.call(proxy.current_base_delay_ms, None, DR) == 15.0
    assert proxy_thread.call(proxy.current_base_delay_ms, None, PROD) == 1.0
    assert proxy_thread.call(proxy.current_base_delay_ms, DR, DR) == 0.0


def test_the_platform_gives_each_site_pair_its_topology_delay_and_the_edge_none() -> None:
    topology = default_topology()
    delays = site_link_delays(topology)
    names = topology.site_names
    assert len(delays) == len(names) * (len(names) - 1) // 2
    for (a, b), ms in delays.items():
        assert ms == topology.link_delay_ms(a, b)
        assert "edge" not in (a, b)
    same_city = [ms for (a, b), ms in delays.items() if topology.same_city(a, b)]
    assert same_city == [topology.network.same_city_delay_ms]
