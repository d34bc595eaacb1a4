"""What a replication link makes of each answer a standby can give, over real sockets:
the acknowledgement, a newer epoch (the primary must fence), a lost handshake, errors and
garbage (the link retries; it never crashes its thread)."""

from __future__ import annotations

import json
import socket
import threading
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


@contextmanager
def standby_answering(status: str, body: bytes) -> Iterator[str]:
    """A peer that answers every request with ``status`` and ``body``, then closes."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    server.settimeout(0.1)
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            head = f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            conn.sendall(head + body)

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        server.close()


def link_to(url: str) -> StandbyLink:
    config = LinkConfig(
        "same-city", url, lambda: {"Authorization": "Bearer r"}, 3, "production", 64, 1.0, 1.0
    )
    return StandbyLink(config, Replicator([config], last_lsn=0, acks_needed=1))


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
    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    port = free.getsockname()[1]
    free.close()
    with pytest.raises(ShipError):
        post(f"http://127.0.0.1:{port}")
