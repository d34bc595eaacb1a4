"""The router's hot endpoint, ``POST /v1/customers/{customer_id}/transactions``, served
ahead of FastAPI: every write crosses the router, and FastAPI's routing and dependency
solving cost the router more than forwarding the write does (docs/benchmarks.md,
capacity).

The lane only reads the body and hands it to the same forwarding function the FastAPI
route uses, so every answer (the 422 for a bad customer id, the relayed answer of the
unit, the 503 with ``Retry-After``) is the one the API documents. Any other request,
including this path with a trailing slash, goes on to the full application. The body
limit wraps this lane like any route and answers a body past it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from failover.body_limit import read_body
from failover.ledger_api import write_customer

ForwardWrite = Callable[[Scope, str, bytes], Awaitable[Response]]
"""``(scope, customer_id, body)`` to the response: the write route's own forwarding."""


class WriteLane:
    """ASGI middleware: forwards writes through ``forward_write``; passes the rest on."""

    def __init__(self, app: ASGIApp, forward_write: ForwardWrite) -> None:
        self._app = app
        self._forward_write = forward_write

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        customer_id = write_customer(scope)
        if customer_id is None:
            await self._app(scope, receive, send)
            return
        body = await read_body(receive)  # past the limit, BodyLimit answers 413
        response = await self._forward_write(scope, customer_id, body)
        await response(scope, receive, send)
