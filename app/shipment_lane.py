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
What :meth:`Receiver.apply` refuses is answered as the error handlers answer it.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api_errors import error_response
from app.errors import UnitError
from app.protocol import ApplyRequest, ApplyResult
from app.service import UnitService
from failover.credentials import (
    CredentialsError,
    Role,
    UnauthenticatedError,
    WrongCredentialError,
)

log = logging.getLogger(__name__)
PATH = "/replication/entries"


@dataclass(frozen=True)
class _RouteLabel:
    """What the request metrics read of a matched route: its path template."""

    path: str


_ROUTE = _RouteLabel(PATH)


class ShipmentLane:
    """ASGI middleware: serves well-formed, authorized shipments; passes the rest on."""

    def __init__(self, app: ASGIApp, service: UnitService) -> None:
        self._app = app
        self._service = service
        # One thread: the receiver applies one shipment at a time anyway (its lock).
        self._applier = ThreadPoolExecutor(max_workers=1, thread_name_prefix="apply")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST":
            await self._app(scope, receive, send)
            return
        try:
            body = await _read_body(receive)
        except HTTPException as exc:  # the body limit, while the body was read
            response = error_response(exc.status_code, "body_too_large", str(exc.detail),
                                      dict(exc.headers or {}))  # fmt: skip
            await response(scope, receive, send)
            return
        request = self._servable(scope, body)
        if request is None:
            await self._app(scope, _replaying(body, receive), send)
            return
        scope["route"] = _ROUTE  # the metrics label it as the router would
        loop = asyncio.get_running_loop()
        try:
            result: ApplyResult = await loop.run_in_executor(
                self._applier, self._service.receiver.apply, request
            )
        except UnitError as exc:
            failure = error_response(exc.status, exc.code, exc.detail, exc.headers, **exc.extra)
            await failure(scope, receive, send)
            return
        await _send_json(send, result.model_dump_json().encode())

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
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, _, token = value.decode("latin-1").partition(" ")
                if scheme.lower() != "bearer":
                    return False
                try:
                    self._service.credentials.verify(token, Role.REPLICATION)
                except (UnauthenticatedError, WrongCredentialError, CredentialsError):
                    # The full application answers which, and logs what it must.
                    return False
                return True
        return False


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replaying(body: bytes, then: Receive) -> Receive:
    """A ``receive`` that hands the already read ``body`` to the full application, then
    passes on what the client sends next (its disconnect)."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return await then()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


async def _send_json(send: Send, content: bytes) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(content))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": content})
