"""A primary's hot endpoint, ``POST /v1/customers/{customer_id}/transactions``, served
ahead of FastAPI: FastAPI's routing, dependency solving and body validation cost a
primary about as much as the write itself (docs/benchmarks.md, capacity).

Only a write that FastAPI would hand to the route unchanged is served here: a JSON body
that is a valid :class:`TransactionRequest` (decoded and validated as FastAPI does), a
valid ``Idempotency-Key`` and a customer of this unit. It then runs the route's own
:func:`app.api_ledger.post_write`. Anything else reaches the full application with its
body, so every refusal (422 naming the field, 421 naming the unit) is the documented one,
answered by the same code; those checks change nothing, so running them twice is
harmless. The body limit and the request metrics wrap this lane like any route.
"""

from __future__ import annotations

import json

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from app.api_errors import error_response
from app.api_ledger import post_write
from app.errors import UnitError
from app.ledger import validate_idempotency_key
from app.metrics import RouteLabel
from app.schemas import TransactionRequest
from app.service import UnitService
from failover.body_limit import read_body, replaying
from failover.ledger_api import write_customer

_ROUTE = RouteLabel("/v1/customers/{customer_id}/transactions")


class WriteLane:
    """ASGI middleware: serves well-formed writes for this unit; passes the rest on."""

    def __init__(self, app: ASGIApp, service: UnitService) -> None:
        self._app = app
        self._service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        customer_id = write_customer(scope)
        if customer_id is None:
            await self._app(scope, receive, send)
            return
        body = await read_body(receive)  # past the limit, BodyLimit answers 413
        write = self._servable(scope, customer_id, body)
        if write is None:
            await self._app(scope, replaying(body, receive), send)
            return
        scope["route"] = _ROUTE  # the metrics label it as FastAPI's routing would
        key, request = write
        try:
            response = await post_write(self._service, customer_id, key, request)
        except UnitError as exc:
            response = error_response(exc.status, exc.code, exc.detail, exc.headers, **exc.extra)
        await response(scope, receive, send)

    def _servable(
        self, scope: Scope, customer_id: str, body: bytes
    ) -> tuple[str, TransactionRequest] | None:
        """``(key, request)`` when the route would take the write as it is; else None."""
        headers = Headers(scope=scope)
        key = headers.get("idempotency-key")
        content_type = headers.get("content-type", "")
        if key is None or content_type.split(";")[0].strip().lower() != "application/json":
            return None
        try:
            request = TransactionRequest.model_validate(json.loads(body))
            validate_idempotency_key(key)
            self._service.check_customer(customer_id)
        except (ValueError, RecursionError, UnitError):
            # ValueError: invalid JSON, not UTF-8, or a ValidationError; RecursionError:
            # nesting too deep. The full application answers each as it documents.
            return None
        return key, request
