"""The asyncio keep-alive client (failover/keepalive_asyncio.py and its wire,
failover/http1_wire.py), on real sockets: against a real uvicorn, and against a raw peer
that answers, closes, hangs or breaks the protocol exactly as each test tells it."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import pytest
from fastapi import FastAPI, Request
from raw_peer import http_answer, raw_peer, read_head
from serving import serving

from failover.http1_wire import MAX_BODY_BYTES
from failover.keepalive_asyncio import (
    IDLE_EXPIRY_SECONDS,
    Answer,
    AsyncKeepAliveClient,
    Timeouts,
    UpstreamError,
)

T = TypeVar("T")
Scenario = Callable[[AsyncKeepAliveClient], Coroutine[Any, Any, T]]
QUICK = Timeouts.each(0.5)


def run(
    scenario: Scenario[T],
    timeouts: Timeouts = QUICK,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    async def with_upstreams() -> T:
        upstreams = AsyncKeepAliveClient(timeouts, clock)
        try:
            return await scenario(upstreams)
        finally:
            await upstreams.aclose()

    return asyncio.run(with_upstreams())


def post(
    url: str, body: bytes = b"hi"
) -> Callable[[AsyncKeepAliveClient], Coroutine[Any, Any, Answer]]:
    async def scenario(upstreams: AsyncKeepAliveClient) -> Answer:
        return await upstreams.request("POST", url, content=body, headers=[(b"x-key", b"k")])

    return scenario


def failure(
    scenario: Callable[[AsyncKeepAliveClient], Coroutine[Any, Any, object]],
) -> UpstreamError:
    with pytest.raises(UpstreamError) as caught:
        run(scenario)
    return caught.value


def echo_app() -> FastAPI:
    app = FastAPI()

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, str]:
        return {"body": (await request.body()).decode(), "key": request.headers["x-key"]}

    return app


def answering(*answers: bytes, then_close: bool = False) -> Callable[[socket.socket], None]:
    """A handler that reads one request head per answer and sends the answers in turn."""

    def handle(conn: socket.socket) -> None:
        with conn:
            for answer in answers:
                if read_head(conn) is None:
                    return
                conn.sendall(answer)
            if not then_close:
                time.sleep(5)

    return handle


def test_a_connection_is_kept_and_reused_per_instance_against_uvicorn() -> None:
    with serving(echo_app()) as first, serving(echo_app()) as second:

        async def scenario(upstreams: AsyncKeepAliveClient) -> list[Answer]:
            return [await post(f"{url}/echo")(upstreams) for url in (first, second, first, second)]

        answers = run(scenario)
    assert [a.status for a in answers] == [200] * 4
    assert [a.body for a in answers] == [b'{"body":"hi","key":"k"}'] * 4
    assert all(a.header("content-type") == "application/json" for a in answers)


def test_two_requests_in_a_row_use_one_connection() -> None:
    ok = http_answer("201 Created", b"{}")
    with raw_peer(answering(ok, ok)) as (url, accepted):

        async def scenario(upstreams: AsyncKeepAliveClient) -> list[int]:
            return [(await post(url)(upstreams)).status for _ in range(2)]

        assert run(scenario) == [201, 201]
    assert len(accepted) == 1


def test_a_kept_connection_the_instance_closed_is_replaced_and_the_request_sent_again() -> None:
    ok = http_answer("201 Created", b"{}")
    with raw_peer(answering(ok, then_close=True)) as (url, accepted):

        async def scenario(upstreams: AsyncKeepAliveClient) -> list[int]:
            first = await post(url)(upstreams)
            await asyncio.sleep(0.2)  # the peer has closed the kept connection by now
            return [first.status, (await post(url)(upstreams)).status]

        assert run(scenario) == [201, 201]
    assert len(accepted) == 2


def test_an_idle_connection_past_its_expiry_is_not_used() -> None:
    ok = http_answer("200 OK", b"{}")
    now = [100.0]
    with raw_peer(answering(ok, ok)) as (url, accepted):

        async def scenario(upstreams: AsyncKeepAliveClient) -> None:
            await post(url)(upstreams)
            now[0] += IDLE_EXPIRY_SECONDS + 1
            await post(url)(upstreams)

        run(scenario, clock=lambda: now[0])
    assert len(accepted) == 2


def test_a_chunked_answer_is_read_whole_and_the_connection_kept() -> None:
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
    )
    with raw_peer(answering(chunked, http_answer("200 OK", b"f"))) as (url, accepted):

        async def scenario(upstreams: AsyncKeepAliveClient) -> list[bytes]:
            return [(await post(url)(upstreams)).body for _ in range(2)]

        assert run(scenario) == [b"abcde", b"f"]
    assert len(accepted) == 1


def test_an_http_1_0_answer_without_length_is_read_to_the_end_and_not_kept() -> None:
    old = b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it"
    with raw_peer(answering(old, then_close=True)) as (url, _):
        answer = run(post(url))
    assert (answer.status, answer.body) == (200, b"all of it")


def test_the_request_carries_the_body_and_headers_given() -> None:
    seen: list[bytes] = []

    def handle(conn: socket.socket) -> None:
        with conn:
            data = read_head(conn) or b""
            while len(data) < data.index(b"\r\n\r\n") + 4 + 5:
                data += conn.recv(1024)
            seen.append(data)
            conn.sendall(http_answer("200 OK", b""))

    with raw_peer(handle) as (url, _):
        run(post(f"{url}/v1/x?y=1", b"hello"))
    head, _, body = seen[0].partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"POST /v1/x?y=1 HTTP/1.1"
    assert b"x-key: k" in lines and b"content-length: 5" in lines
    assert body == b"hello"


def test_nobody_listening_is_a_connect_error_not_a_timeout() -> None:
    with socket.create_server(("127.0.0.1", 0)) as closed:
        url = f"http://127.0.0.1:{closed.getsockname()[1]}"
    error = failure(post(url))
    assert error.kind == "connect failed"
    assert not error.timed_out
    assert error.refused


def test_an_instance_that_never_answers_is_a_read_timeout() -> None:
    def hang(conn: socket.socket) -> None:
        time.sleep(2)
        conn.close()

    with raw_peer(hang) as (url, _):
        error = failure(post(url))
    assert error.kind == "read timed out"
    assert error.timed_out
    assert not error.refused


@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        (b"SMTP ready\r\n\r\n", "bad answer"),
        (b"HTTP/1.1 abc OK\r\n\r\n", "bad answer"),
        (b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", "bad answer"),
        (b"HTTP/1.1 100 Continue\r\n\r\n", "bad answer"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "bad answer"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (MAX_BODY_BYTES + 1), "bad answer"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", "bad answer"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "bad answer"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", "read failed"),
        (b"HTTP/1.1 200 OK\r\nX: " + b"a" * 70000, "bad answer"),
    ],
)
def test_an_answer_that_breaks_the_protocol_is_a_named_failure(answer: bytes, kind: str) -> None:
    with raw_peer(answering(answer, then_close=True)) as (url, _):
        error = failure(post(url))
    assert error.kind == kind
    assert not error.timed_out


def test_a_header_value_with_a_line_break_is_refused_before_anything_is_sent() -> None:
    with raw_peer(answering(http_answer("200 OK", b""))) as (url, accepted):

        async def scenario(upstreams: AsyncKeepAliveClient) -> Answer:
            smuggled = [(b"x-key", b"k\r\nGET /admin HTTP/1.1")]
            return await upstreams.request("POST", url, content=b"", headers=smuggled)

        with pytest.raises(ValueError, match="line break"):
            run(scenario)
    assert accepted == []


def test_a_request_cancelled_while_waiting_closes_its_connection() -> None:
    closed = threading.Event()

    def hang_then_watch(conn: socket.socket) -> None:
        read_head(conn)
        conn.settimeout(5)
        if conn.recv(1) == b"":
            closed.set()
        conn.close()

    with raw_peer(hang_then_watch) as (url, _):

        async def scenario(upstreams: AsyncKeepAliveClient) -> None:
            task = asyncio.create_task(post(url)(upstreams))
            await asyncio.sleep(0.1)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

        run(scenario, Timeouts.each(5.0))
        assert closed.wait(5)


def test_as_many_connections_as_requests_in_flight_are_kept_for_the_next_ones() -> None:
    # Forty requests at once, twice: the second forty reuse the first forty's connections
    # (a lower idle cap would close some after answering and open new ones next time).
    concurrent = 40
    accepted = 0

    async def scenario(upstreams: AsyncKeepAliveClient) -> list[int]:
        arrived, everyone = 0, asyncio.Event()

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            nonlocal accepted, arrived
            accepted += 1
            with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
                while True:  # one request after another on this connection, until it closes
                    head = await reader.readuntil(b"\r\n\r\n")
                    length = next(
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length:")
                    )
                    await reader.readexactly(length)
                    arrived += 1
                    if arrived == concurrent:
                        everyone.set()
                    await everyone.wait()
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
                    await writer.drain()

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
        statuses = []
        async with server:
            for _ in range(2):
                arrived, everyone = 0, asyncio.Event()
                answers = await asyncio.gather(*(post(url)(upstreams) for _ in range(concurrent)))
                statuses += [answer.status for answer in answers]
        return statuses

    assert run(scenario, Timeouts.each(5.0)) == [200] * (2 * concurrent)
    assert accepted == concurrent
