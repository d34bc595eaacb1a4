"""Planned ports never come from the kernel's ephemeral range."""

from __future__ import annotations

import random
import socket
from pathlib import Path

from infra.local.ports import free_ports, planned_range


def _ephemeral() -> range:
    text = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text()
    low, high = (int(x) for x in text.split())
    return range(low, high + 1)


def test_planned_ports_are_distinct_and_outside_the_ephemeral_range() -> None:
    ports = free_ports(64)
    assert len(set(ports)) == 64
    assert not set(ports) & set(_ephemeral())
    assert all(p in planned_range() for p in ports)


def test_a_port_bound_by_port_zero_can_never_be_a_planned_port() -> None:
    planned = set(free_ports(32))
    taken = []
    for _ in range(200):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        taken.append(sock)
    try:
        assert not planned & {s.getsockname()[1] for s in taken}
    finally:
        for sock in taken:
            sock.close()


def test_planned_ports_skip_ports_in_use() -> None:
    with socket.socket() as busy:
        port = free_ports(1)[0]
        busy.bind(("127.0.0.1", port))
        busy.listen()
        again = free_ports(len(planned_range()) // 4)
        assert port not in again


def test_a_port_promised_elsewhere_is_never_planned() -> None:
    first = free_ports(1, rng=random.Random(7))[0]
    again = free_ports(3, rng=random.Random(7), avoid=frozenset({first}))
    assert first not in again
