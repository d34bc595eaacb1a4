"""The router's write lane: a write (``POST /v1/customers/{id}/transactions``) goes to
the write route's own forwarding without FastAPI; every other request reaches the full
application untouched."""

from __future__ import annotations

import asyncio

import pytest
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from failover.router.write_lane import WriteLane


class Recorder:
    """The full application and the forwarding, each recording what reached it."""

    def __init__(self) -> None:
        self.full: list[str] = []
        self.forwarded: list[tuple[str, bytes]] = []

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.full.append(f"{scope['method']} {scope['path']}")
        await Response(b"", 599)(scope, receive, send)

    async def forward_write(self, _scope: Scope, customer_id: str, body: bytes) -> Response:
        self.forwarded.append((customer_id, body))
        return Response(b'{"lsn": 1}', 201, media_type="application/json")


def call(lane: WriteLane, method: str, path: str, parts: list[bytes]) -> int:
    scope = {"type": "http", "method": method, "path": path, "headers": []}
    incoming = [
        {"type": "http.request", "body": part, "more_body": i < len(parts) - 1}
        for i, part in enumerate(parts)
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(lane(scope, receive, send))
    return int(sent[0]["status"])


def test_a_write_is_forwarded_with_its_customer_and_whole_body() -> None:
    recorder = Recorder()
    lane = WriteLane(recorder.app, forward_write=recorder.forward_write)
    assert (
        call(lane, "POST", "/v1/customers/c-42/transactions", [b'{"type":', b'"purchase"}']) == 201
    )
    assert recorder.forwarded == [("c-42", b'{"type":"purchase"}')]
    assert recorder.full == []


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/customers/c-42/transactions"),
        ("POST", "/v1/customers/c-42/transactions/"),
        ("POST", "/v1/customers/c-42/transactions/t-1"),
        ("POST", "/v1/customers/a/b/transactions"),
        ("POST", "/v1/customers//transactions"),
        ("GET", "/v1/customers/c-42/account"),
    ],
)
def test_anything_but_a_write_reaches_the_full_application(method: str, path: str) -> None:
    recorder = Recorder()
    lane = WriteLane(recorder.app, forward_write=recorder.forward_write)
    assert call(lane, method, path, [b""]) == 599
    assert recorder.full == [f"{method} {path}"]
    assert recorder.forwarded == []
