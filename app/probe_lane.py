"""A unit instance's most frequent request, ``GET /v1/unit``, served ahead of FastAPI:
three observers ask every instance every second, 72 requests a second on an idle
platform of eight units, and FastAPI's routing, dependency solving and response
serialization cost an instance more than the answer does (docs/benchmarks.md, idle
cost).

The answer is the route's own: :func:`app.api_ops.unit` called as the route calls it,
rendered by the same ``JSONResponse`` FastAPI renders a ``dict`` with (a dict of JSON
types, so FastAPI's encoding step changes nothing); a :class:`UnitError` is answered as
the error handlers answer it. Any other request, and this path with another method, goes
on to the full application. The request metrics wrap this lane like any route.
"""

from __future__ import annotations

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from app.api_errors import error_response
from app.api_ops import unit
from app.errors import UnitError
from app.metrics import RouteLabel
from app.service import UnitService

PATH = "/v1/unit"
_ROUTE = RouteLabel(PATH)


class ProbeLane:
    """ASGI middleware: answers ``GET /v1/unit``; passes the rest on."""

    def __init__(self, app: ASGIApp, service: UnitService) -> None:
        self._app = app
        self._service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "GET":
            await self._app(scope, receive, send)
            return
        scope["route"] = _ROUTE  # the metrics label it as FastAPI's routing would
        try:
            response = JSONResponse(await unit(self._service))
        except UnitError as exc:
            response = error_response(exc.status, exc.code, exc.detail, exc.headers, **exc.extra)
        await response(scope, receive, send)
