"""The keep-alive client of the observers' probes and the replication links, against real
sockets: one connection per peer across requests, a peer's keep-alive close is not a
failure, and every way of not answering ends in NoAnswerError (a refused connection in
its retryable RefusedError)."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from failover.http1_wire import MAX_BODY_BYTES
from failover.keepalive_http import (
    KeepAliveClient,
    NoAnswerError,
    RefusedError,
)
from infra.local.ports import free_port
from tests.raw_peer import http_answer, raw_peer, read_head

Answer = Callable[[socket.socket], bool]
"""Serves one request on a connection; False closes the connection after it."""


def read_request(conn: socket.socket) -> bool:
    try:
        return read_head(conn) is not None
    except ConnectionResetError:
        return False  # the client closed with part of an answer unread: a reset


def answering(status: str = "200 OK", body: bytes = b'{"role": "standby"}') -> Answer:
    def answer(conn: socket.socket) -> bool:
        if not read_request(conn):
            return False
        try:
            conn.sendall(http_answer(status, body))
        except (BrokenPipeError, ConnectionResetError):
            return False  # the client gave up on the answer (one too large, say)
        return True

    return answer


@contextmanager
def peer(answer: Answer, requests_per_connection: int = 1000) -> Iterator[tuple[str, list[int]]]:
    """A peer serving up to ``requests_per_connection`` requests per connection with
    ``answer``; yields its probe URL and a list counting accepted connections."""

    def serve(conn: socket.socket) -> None:
        with conn:
            for _ in range(requests_per_connection):
                if not answer(conn):
                    return

    with raw_peer(serve) as (url, accepted):
        yield f"{url}/v1/unit", accepted


@pytest.fixture
def client() -> Iterator[KeepAliveClient]:
    probe_client = KeepAliveClient(connect_timeout=0.5, read_timeout=0.3)
    yield probe_client
    probe_client.close()


def test_rounds_of_probes_reuse_one_connection_per_peer(client: KeepAliveClient) -> None:
    with peer(answering()) as (url, accepted):
        answers = [client.get(url) for _ in range(5)]
    assert answers == [(200, b'{"role": "standby"}')] * 5
    assert len(accepted) == 1


def test_a_peer_closing_its_kept_connection_between_rounds_is_not_a_failure(
    client: KeepAliveClient,
) -> None:
    with peer(answering(), requests_per_connection=1) as (url, accepted):
        for _ in range(3):
            assert client.get(url)[0] == 200
            time.sleep(0.05)  # the peer's close reaches us before the next round
    assert len(accepted) == 3


def test_an_error_status_is_still_an_answer(client: KeepAliveClient) -> None:
    with peer(answering("503 Service Unavailable", b'{"error": "not_ready"}')) as (url, _):
        assert client.get(url) == (503, b'{"error": "not_ready"}')


def test_nobody_listening_is_refused_which_is_worth_one_more_try(client: KeepAliveClient) -> None:
    with pytest.raises(RefusedError):
        client.get(f"http://127.0.0.1:{free_port()}/v1/unit")


def test_a_peer_that_accepts_and_never_answers_costs_one_read_timeout(
    client: KeepAliveClient,
) -> None:
    def hang(conn: socket.socket) -> bool:
        read_request(conn)
        time.sleep(1.0)
        return False

    with peer(hang) as (url, _), pytest.raises(NoAnswerError) as raised:
        client.get(url)
    assert not isinstance(raised.value, RefusedError)
    assert isinstance(raised.value.__cause__, TimeoutError)  # the read timeout, not the peer


def test_a_peer_that_hangs_on_a_kept_connection_is_not_answered(client: KeepAliveClient) -> None:
    served: list[int] = []

    def answer_once_then_hang(conn: socket.socket) -> bool:
        if served:
            read_request(conn)
            time.sleep(1.0)
            return False
        served.append(1)
        return answering()(conn)

    with peer(answer_once_then_hang) as (url, _):
        assert client.get(url)[0] == 200
        with pytest.raises(NoAnswerError):
            client.get(url)


def test_an_oversized_answer_is_no_answer(client: KeepAliveClient) -> None:
    oversized = answering(body=b"x" * (MAX_BODY_BYTES + 1))
    with peer(oversized) as (url, _), pytest.raises(NoAnswerError, match=str(MAX_BODY_BYTES)):
        client.get(url)


def test_garbage_instead_of_http_is_no_answer(client: KeepAliveClient) -> None:
    def garbage(conn: socket.socket) -> bool:
        read_request(conn)
        conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")
        return False

    with peer(garbage) as (url, _), pytest.raises(NoAnswerError):
        client.get(url)


def test_a_post_sends_its_body_and_headers_on_the_kept_connection(
    client: KeepAliveClient,
) -> None:
    def echo(conn: socket.socket) -> bool:
        data = read_head(conn)
        if data is None:
            return False
        head, body = data.split(b"\r\n\r\n", 1)
        lines = head.split(b"\r\n")[1:]
        fields = {
            k.lower(): v for k, v in (line.split(b": ", 1) for line in lines if b": " in line)
        }
        length = int(fields[b"content-length"])
        while len(body) < length:
            body += conn.recv(65536)
        answer = fields[b"authorization"] + b" " + body
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(answer), answer))
        return True

    with peer(echo) as (url, accepted):
        for n in range(3):
            status, body = client.request(
                "POST", url, body=b'{"n": %d}' % n, headers={"Authorization": "Bearer t"}
            )
            assert (status, body) == (200, b'Bearer t {"n": %d}' % n)
    assert len(accepted) == 1


def sending(raw: bytes, keep: bool = True) -> Answer:
    """Answers every request with the bytes ``raw``; closes after it unless ``keep``."""

    def answer(conn: socket.socket) -> bool:
        if not read_request(conn):
            return False
        conn.sendall(raw)
        return keep

    return answer


def test_a_chunked_answer_is_read_whole_and_the_connection_kept(client: KeepAliveClient) -> None:
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b'4\r\n{"a"\r\n3\r\n: 1\r\n1\r\n}\r\n0\r\n\r\n'
    )
    with peer(sending(chunked)) as (url, accepted):
        assert [client.get(url) for _ in range(2)] == [(200, b'{"a": 1}')] * 2
    assert len(accepted) == 1


def test_an_answer_without_length_is_read_to_the_close_and_its_connection_not_kept(
    client: KeepAliveClient,
) -> None:
    to_close = b"HTTP/1.0 200 OK\r\n\r\n" + b'{"role": "standby"}' * 1000
    with peer(sending(to_close, keep=False)) as (url, accepted):
        assert [client.get(url) for _ in range(2)] == [(200, b'{"role": "standby"}' * 1000)] * 2
    assert len(accepted) == 2


def test_a_peer_closing_in_the_middle_of_its_answer_did_not_answer(
    client: KeepAliveClient,
) -> None:
    cut = b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"role"'
    with peer(sending(cut, keep=False)) as (url, _), pytest.raises(NoAnswerError, match="did not"):
        client.get(url)
