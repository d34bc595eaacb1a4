"""What a replication link makes of each answer a standby can give, over real sockets:
the acknowledgement, a newer epoch (the primary must fence), a lost handshake, errors and
garbage (the link retries; it never crashes its thread)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from app.replication import (
    HandshakeNeededError,
    LinkConfig,
    Replicator,
    ShipError,
    StaleEpochSeenError,
    StandbyLink,
)
from failover.keepalive_http import KeepAliveClient
from infra.local.ports import free_port
from tests.raw_peer import http_answer, raw_peer, read_head


@contextmanager
def standby_answering(status: str, body: bytes) -> Iterator[str]:
    """A peer that answers every request with ``status`` and ``body``, then closes."""

    def answer(conn: socket.socket) -> None:
        with conn:
            if read_head(conn) is not None:
                conn.sendall(http_answer(status, body))

    with raw_peer(answer) as (url, _):
        yield url


def link_to(url: str) -> StandbyLink:
    config = LinkConfig(
        "same-city", url, lambda: {"Authorization": "Bearer r"}, 3, "production", 64, 1.0, 1.0
    )
    return StandbyLink(config, Replicator([config], last_lsn=0, acks_needed=1, epoch=1))


def post(url: str) -> object:
    client = KeepAliveClient(1.0, 1.0)
    try:
        return link_to(url)._post(client, "/replication/entries", '{"entries": []}')
    finally:
        client.close()


def test_an_acknowledgement_is_read_as_json() -> None:
    with standby_answering("200 OK", b'{"applied_lsn": 7, "epoch": 3}') as url:
        assert post(url) == {"applied_lsn": 7, "epoch": 3}


def test_a_newer_epoch_at_the_standby_is_seen_with_its_number() -> None:
    body = json.dumps({"error": "stale_epoch", "detail": "epoch 4 here", "epoch": 4}).encode()
    with standby_answering("409 Conflict", body) as url, pytest.raises(StaleEpochSeenError) as seen:
        post(url)
    assert seen.value.epoch == 4


def test_a_standby_that_lost_the_handshake_asks_for_it_again() -> None:
    body = json.dumps({"error": "handshake_required", "detail": "restarted"}).encode()
    with standby_answering("409 Conflict", body) as url, pytest.raises(HandshakeNeededError):
        post(url)


@pytest.mark.parametrize(
    ("status", "body"),
    [
        ("500 Internal Server Error", b'{"error": "internal", "detail": "boom"}'),
        ("401 Unauthorized", b"not json at all"),
        ("200 OK", b"<html>a proxy's page</html>"),
    ],
)
def test_errors_and_garbage_are_a_failed_shipment_not_a_crash(status: str, body: bytes) -> None:
    with standby_answering(status, body) as url, pytest.raises(ShipError):
        post(url)


def test_nobody_listening_is_a_failed_shipment() -> None:
    with pytest.raises(ShipError):
        post(f"http://127.0.0.1:{free_port()}")
