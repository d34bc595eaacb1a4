"""The standby's hot endpoint, ``POST /replication/entries``, served without FastAPI's
routing, dependency solving and worker-thread pool: a standby answers one of these per
shipment, and under load those layers cost it more than applying the entries does
(docs/benchmarks.md, capacity).

Only a shipment that needs nothing but applying is served here: an authorized bearer
token of the replication credential, a body that is a valid :class:`ApplyRequest` and a
primary site of the topology. Anything else goes to the full application with the body
replayed, so every refusal (401, 403, 422) is the one the API documents, answered by the
same code; those checks change nothing, so running them twice is harmless. The body limit
and the request metrics wrap this lane like any route (see :func:`app.main.app_for`).

The shipment is applied on the event loop, as the primary's group commit is
(docs/design.md §2): a hand-off to a thread cost more CPU than applying a few entries.
When another thread holds the receiver (a catch-up applying thousands of entries, a
handshake), the loop does not wait for it: the shipment goes to the full application,
whose route waits in a worker thread. What :meth:`Receiver.apply_now` refuses is answered
as the error handlers answer it.
"""

from __future__ import annotations

from fastapi.security.utils import get_authorization_scheme_param
from pydantic import ValidationError
from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from app.api_errors import error_response
from app.errors import UnitError
from app.metrics import RouteLabel
from app.protocol import ApplyRequest
from app.service import UnitService
from failover.body_limit import read_body, replaying
from failover.credentials import (
    CredentialsError,
    Role,
    UnauthenticatedError,
    WrongCredentialError,
)

PATH = "/replication/entries"
_ROUTE = RouteLabel(PATH)


class ShipmentLane:
    """ASGI middleware: serves well-formed, authorized shipments; passes the rest on."""

    def __init__(self, app: ASGIApp, service: UnitService) -> None:
        self._app = app
        self._service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST":
            await self._app(scope, receive, send)
            return
        body = await read_body(receive)  # past the limit, BodyLimit answers 413
        request = self._servable(scope, body)
        if request is None:
            await self._app(scope, replaying(body, receive), send)
            return
        try:
            result = self._service.receiver.apply_now(request)
        except UnitError as exc:
            scope["route"] = _ROUTE  # the metrics label it as FastAPI's routing would
            failure = error_response(exc.status, exc.code, exc.detail, exc.headers, **exc.extra)
            await failure(scope, receive, send)
            return
        if result is None:  # a catch-up or handshake holds the receiver: not on the loop
            await self._app(scope, replaying(body, receive), send)
            return
        scope["route"] = _ROUTE
        answer = Response(result.model_dump_json(), media_type="application/json")
        await answer(scope, receive, send)

    def _servable(self, scope: Scope, body: bytes) -> ApplyRequest | None:
        """The shipment, when it needs nothing but applying; else None."""
        if not self._authorized(scope):
            return None
        try:
            request = ApplyRequest.model_validate_json(body)
        except ValidationError:
            return None
        if request.primary_site not in self._service.topology.site_names:
            return None
        return request

    def _authorized(self, scope: Scope) -> bool:
        authorization = Headers(scope=scope).get("authorization")
        scheme, token = get_authorization_scheme_param(authorization)  # as HTTPBearer reads it
        if scheme.lower() != "bearer":
            return False
        try:
            self._service.credentials.verify(token, Role.REPLICATION)
        except (UnauthenticatedError, WrongCredentialError, CredentialsError):
            return False  # the full application answers which, and logs what it must
        return True
