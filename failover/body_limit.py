"""Request body limits of every watertight HTTP service: 413 before one byte too many is read.

:class:`BodyLimit` refuses a request whose ``Content-Length`` is above its path's limit
without reading the body, and counts the bytes of a body without one (chunked) as they
arrive, answering 413 as soon as the count passes the limit. The error names the limit
and where it is documented: ``{"error": "body_too_large", "detail": "... limit of 65536
bytes ..."}``.

Pure ASGI (Starlette only): like the topology model and the env contract, this is a part
of ``failover`` the unit service may import (an import-linter contract says so), so the
router, the controller and the unit service share one mechanism.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_BODY_LIMIT = 64 * 1024
BODY_TOO_LARGE = "body_too_large"
ORCHESTRATOR_LIMITS = "docs/controller.md, Limits and bad input"


def too_large_detail(limit: int, docs: str = ORCHESTRATOR_LIMITS) -> str:
    return (
        f"the request body is larger than this endpoint's limit of {limit} bytes; "
        f"send less ({docs})"
    )


class BodyTooLarge(HTTPException):
    """A body passed its limit while it was read; the error handlers answer it as 413."""

    def __init__(self, limit: int, docs: str = ORCHESTRATOR_LIMITS) -> None:
        super().__init__(413, too_large_detail(limit, docs), headers={"Connection": "close"})


class BodyLimit:
    """ASGI middleware: at most ``limit_of(path)`` bytes of body per request (a number:
    the same limit for every path); ``docs`` says where the limits are documented."""

    def __init__(
        self,
        app: ASGIApp,
        limit_of: Callable[[str], int] | int = API_BODY_LIMIT,
        docs: str = ORCHESTRATOR_LIMITS,
    ) -> None:
        self._app, self._docs = app, docs
        self._limit_of = limit_of if callable(limit_of) else (lambda _path, n=limit_of: n)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        limit = self._limit_of(scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await self._refuse(scope, receive, send, limit)
            return
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit, self._docs)
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
            await self._refuse(scope, receive, send, limit)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        body = {"error": BODY_TOO_LARGE, "detail": too_large_detail(limit, self._docs)}
        # Connection: close, since the rest of the body is never read.
        await JSONResponse(body, 413, headers={"Connection": "close"})(scope, receive, send)


async def read_body(receive: Receive) -> bytes:
    """The whole body of a request, for a lane served ahead of an application's routing.

    Read through :class:`BodyLimit`'s ``receive``, past the limit this raises
    :class:`BodyTooLarge`, which :class:`BodyLimit` answers with its 413. A client that
    goes away ends the body early.
    """
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def replaying(body: bytes, then: Receive) -> Receive:
    """A ``receive`` that hands an already read ``body`` to the application a lane passes a
    request on to, then whatever the client sends next (its disconnect) from ``then``."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return await then()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server refuses these; count what arrives instead
    return None
