"""How the transport classifies failures, on real sockets: refused connections surely
did not reach etcd (try the next endpoint); a silent server may have applied a write."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from failover.dcs import DcsError, DcsOutcomeUnknown, DcsUnavailable, EtcdDcs
from failover.etcd_gateway import parse_endpoint


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A listener that accepts connections (kernel backlog) but never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield int(sock.getsockname()[1])


def test_a_write_to_a_refusing_endpoint_is_unavailable_not_unknown(closed_port: int) -> None:
    dcs = EtcdDcs([f"http://127.0.0.1:{closed_port}"], timeout=0.2)
    with pytest.raises(DcsUnavailable, match="majority of etcd members") as raised:
        dcs.txn([], [])
    assert not isinstance(raised.value, DcsOutcomeUnknown)


def test_a_write_to_a_silent_endpoint_has_an_unknown_outcome(silent_port: int) -> None:
    dcs = EtcdDcs([f"http://127.0.0.1:{silent_port}"], timeout=0.2)
    with pytest.raises(DcsOutcomeUnknown, match="re-read before acting"):
        dcs.txn([], [])


def test_a_read_moves_past_dead_endpoints_and_names_each(
    closed_port: int, silent_port: int
) -> None:
    dcs = EtcdDcs(
        [f"http://127.0.0.1:{closed_port}", f"http://127.0.0.1:{silent_port}"], timeout=0.2
    )
    with pytest.raises(DcsUnavailable) as raised:
        dcs.get("/k")
    assert str(closed_port) in str(raised.value) and str(silent_port) in str(raised.value)


def test_endpoints_must_be_urls_with_a_port() -> None:
    assert parse_endpoint("http://127.0.0.1:2379") == ("http", "127.0.0.1", 2379)
    assert parse_endpoint("127.0.0.1:2379") == ("http", "127.0.0.1", 2379)
    with pytest.raises(ValueError, match="must look like"):
        parse_endpoint("http://etcd")


def test_every_adapter_error_is_a_dcs_error() -> None:
    assert issubclass(DcsOutcomeUnknown, DcsUnavailable)
    assert issubclass(DcsUnavailable, DcsError)
