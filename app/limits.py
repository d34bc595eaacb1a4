"""Request body limits of the unit service: 413 before one byte too many is read.

:class:`BodyLimit` refuses a request whose ``Content-Length`` is above its path's limit
without reading the body, and counts the bytes of a body without one (chunked) as they
arrive, answering 413 as soon as the count passes the limit. The error names the limit:
``{"error": "body_too_large", "detail": "... limit of 65536 bytes ..."}``.

Limits (docs/unit-service.md, "Limits and bad input"):

- ``/replication/*`` carries batches of journal entries: :func:`replication_body_limit`
  of the topology's ``replication.batch_size``;
- everything else (ledger writes, admin) takes small JSON objects: :data:`API_BODY_LIMIT`.

The orchestrator has its own copy of this middleware (``failover/web.py``): the
import-linter contracts keep ``app`` and ``failover`` apart.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_BODY_LIMIT = 64 * 1024
ENTRY_BYTES_MAX = 4 * 1024
"""Room per journal entry in a shipment: 2.5 times the largest one measured (1 595 bytes:
64-character customer id, 128-character key, a 128-character merchant of control
characters, which JSON escapes to six bytes each)."""
REPLICATION_BODY_FLOOR = 1024 * 1024
BODY_TOO_LARGE = "body_too_large"


def replication_body_limit(batch_size: int) -> int:
    """The limit of a replication request for shipments of ``batch_size`` entries."""
    return max(REPLICATION_BODY_FLOOR, batch_size * ENTRY_BYTES_MAX)


def unit_body_limits(batch_size: int) -> Callable[[str], int]:
    """The unit service's limit for a request path."""
    replication = replication_body_limit(batch_size)

    def limit_of(path: str) -> int:
        return replication if path.startswith("/replication/") else API_BODY_LIMIT

    return limit_of


class BodyTooLarge(HTTPException):
    """A body passed its limit while it was read; the error handlers answer it as 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, too_large_detail(limit), headers={"Connection": "close"})


def too_large_detail(limit: int) -> str:
    return (
        f"the request body is larger than this endpoint's limit of {limit} bytes; "
        "send less (docs/unit-service.md, Limits and bad input)"
    )


class BodyLimit:
    """ASGI middleware: at most ``limit_of(path)`` bytes of body per request."""

    def __init__(self, app: ASGIApp, limit_of: Callable[[str], int]) -> None:
        self._app, self._limit_of = app, limit_of

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        limit = self._limit_of(scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _refuse(scope, receive, send, limit)
            return
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self._app(scope, counted, tracked)
        except BodyTooLarge:
            # Normally the app's handler has answered it; this is for a read outside
            # any handler. Once a response started, nothing more can be said.
            if started:
                raise
            await _refuse(scope, receive, send, limit)


async def _refuse(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    body = {"error": BODY_TOO_LARGE, "detail": too_large_detail(limit)}
    # Connection: close, since the rest of the body is never read.
    await JSONResponse(body, 413, headers={"Connection": "close"})(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server refuses these; count what arrives instead
    return None
