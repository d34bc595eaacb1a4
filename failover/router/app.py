"""The router's ASGI application (docs/design.md §5, router contract).

Forwarding rule: the request goes to the unit's primary per the current routing table.
On a 503 from the instance (standby/fenced) or a transport failure, the router re-reads
the routes once and retries once — safe because every write carries an Idempotency-Key
and the unit service never posts a key twice — except after a *timeout* when the route
has not moved: the same target would most likely time out again (a dead or hung site),
so the client hears 503 at once. If the retry fails too, or is skipped, the client gets
503 with ``Retry-After`` and decides itself whether to retry with the same key. After a
timeout the route is suspect: one request at a time probes it and the others for its
unit hear that 503 at once, without waiting on it (:mod:`failover.router.suspects`).

Bad input is answered here, in the error shape, before anything is forwarded: a customer
or transaction id outside ``[A-Za-z0-9._:-]{1,64}`` is 422, a body over 64 KiB is 413
(:mod:`failover.web`); the unit service judges everything else.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, FastAPI, Path, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from pydantic import BaseModel
from starlette.types import Lifespan, Scope

from failover.body_limit import BodyLimit
from failover.http_server import FASTAPI_APP
from failover.keepalive_asyncio import Answer, AsyncKeepAliveClient, Timeouts, UpstreamError
from failover.ledger_api import (
    CUSTOMER_ID_PARAMETER,
    IDEMPOTENCY_KEY_PARAMETER,
    AccountView,
    TransactionRequest,
    TransactionResult,
    TransactionView,
)
from failover.openapi import PROMETHEUS, errors, json_body, truthful_openapi
from failover.router.addresses import AddressMap
from failover.router.source import RouteSource
from failover.router.suspects import Admission, SuspectRoutes
from failover.router.write_lane import WriteLane
from failover.routing import Route
from failover.topology import Topology
from failover.web import ID_PATTERN, install_error_shape
from failover.web import error as error_response

PASSED_REQUEST_HEADERS = (b"idempotency-key", b"content-type", b"accept")
PASSED_RESPONSE_HEADERS = ("content-type", "retry-after")
RETRY_AFTER_SECONDS = "1"
RETRY_TRANSPORT, RETRY_UNAVAILABLE = "transport", "unavailable"
"""The ``reason`` label of ``watertight_router_retries_total``."""
_ID = re.compile(ID_PATTERN)
DESCRIPTION = (
    "The public ledger API: each request goes to the primary of the customer's unit "
    "(docs/design.md §5); the unit service's answer is relayed as it is. Every error is "
    '`{"error": code, "detail": text}`.'
)
# What the unit service answers, relayed; plus the router's own 422 (ids) and 503.
_RELAYED = (421, 422, 503)
CustomerId = Annotated[str, Path(include_in_schema=False)]
TransactionId = Annotated[str, Path(include_in_schema=False)]
TRANSACTION_ID_PARAMETER = {
    "name": "transaction_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": ID_PATTERN},
}


class RouteView(BaseModel):
    """``GET /v1/routes/{customer_id}``: where the customer's requests go now."""

    customer_id: str
    bucket: int
    unit: str
    site: str | None
    epoch: int | None


@dataclass
class RouterMetrics:
    """Prometheus series of one router, in its own registry (tests build many routers)."""

    registry: CollectorRegistry
    requests: Counter
    retries: Counter
    refusals: Counter
    latency: Histogram

    @classmethod
    def create(cls, units: Sequence[str] = ()) -> RouterMetrics:
        registry = CollectorRegistry()
        # process_* of the router process (its own registry has none by default).
        ProcessCollector(registry=registry)
        retries = Counter(
            "watertight_router_retries", "Re-routed retries", ["reason"], registry=registry
        )
        # Every reason exists from the start at 0, so rate() sees the first retry.
        for reason in (RETRY_TRANSPORT, RETRY_UNAVAILABLE):
            retries.labels(reason)
        refusals = Counter(
            "watertight_router_suspect_refusals",
            "Requests answered 503 without sending: their unit's route timed out and its "
            "one probe is out",
            ["unit"],
            registry=registry,
        )
        for unit in units:
            refusals.labels(unit)
        return cls(
            registry=registry,
            requests=Counter(
                "watertight_router_requests", "Requests answered", ["status"], registry=registry
            ),
            retries=retries,
            refusals=refusals,
            latency=Histogram(
                "watertight_router_request_seconds", "Time to answer", registry=registry
            ),
        )


@dataclass
class RouterState:
    """Everything a request needs; built once per process."""

    topology: Topology
    routes: RouteSource
    addresses: AddressMap
    upstreams: AsyncKeepAliveClient
    metrics: RouterMetrics
    suspects: SuspectRoutes = field(default_factory=SuspectRoutes)


def error(status: int, code: str, detail: str, retry: bool = False) -> JSONResponse:
    """The error shape of every watertight endpoint: ``{"error", "detail"}``."""
    headers = {"Retry-After": RETRY_AFTER_SECONDS} if retry else None
    return error_response(status, code, detail, headers)


async def state_of(request: Request) -> RouterState:
    # async: FastAPI runs a plain function dependency in a worker thread, per request.
    state: RouterState = request.app.state.router
    return state


State = Annotated[RouterState, Depends(state_of)]


def create_router_app(
    topology: Topology,
    routes: RouteSource,
    addresses: AddressMap,
    upstream_timeouts: Timeouts | None = None,
) -> FastAPI:
    """Build the router. ``routes`` is started and stopped with the application."""
    # A write's answer waits for a standby's acknowledgement: allow the unit service's
    # own acknowledgement timeout and a second more, so its 503 arrives rather than ours.
    timeouts = upstream_timeouts or Timeouts(
        connect=topology.timing.probe_timeout_seconds,
        write=1.0,
        read=topology.replication.ack_timeout_seconds + 1.0,
        pool=1.0,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        upstreams = AsyncKeepAliveClient(timeouts)
        try:
            await asyncio.to_thread(routes.start)
            app.state.router = RouterState(
                topology, routes, addresses, upstreams, RouterMetrics.create(topology.units)
            )
            try:
                yield
            finally:
                await asyncio.to_thread(routes.stop)
        finally:
            await upstreams.aclose()

    app = router_api(lifespan)
    app.add_middleware(WriteLane, forward_write=_forward_write)
    app.add_middleware(BodyLimit)
    return app


def router_api(lifespan: Lifespan[FastAPI] | None = None) -> FastAPI:
    """The router's routes and error shape, without its state (set by the lifespan of
    :func:`create_router_app`): what its published OpenAPI document is generated from
    (docs/api/router.json)."""
    app = FastAPI(title="watertight router", lifespan=lifespan, **FASTAPI_APP)
    install_error_shape(app, "router")
    _add_routes(app)
    app.openapi = truthful_openapi(app, DESCRIPTION)  # type: ignore[method-assign]
    return app


def _add_routes(app: FastAPI) -> None:
    @app.post(
        "/v1/customers/{customer_id}/transactions",
        status_code=201,
        response_class=JSONResponse,
        responses={
            201: {"model": TransactionResult, "description": "Posted."},
            200: {"model": TransactionResult, "description": "A replay of an earlier write."},
            **errors(409, 413, *_RELAYED),
        },
        openapi_extra={
            "parameters": [CUSTOMER_ID_PARAMETER, IDEMPOTENCY_KEY_PARAMETER],
            **json_body(
                TransactionRequest.model_json_schema(),
                "Forwarded as it is; the unit service judges it (422 when invalid).",
            ),
        },
    )
    async def post_transaction(customer_id: CustomerId, request: Request, state: State) -> Response:
        body = await request.body()
        headers = request.headers.raw
        return await forward(state, headers, customer_id, "POST", "/transactions", body)

    @app.get(
        "/v1/customers/{customer_id}/transactions/{transaction_id}",
        response_class=JSONResponse,
        responses={200: {"model": TransactionView}, **errors(404, *_RELAYED)},
        openapi_extra={"parameters": [CUSTOMER_ID_PARAMETER, TRANSACTION_ID_PARAMETER]},
    )
    async def get_transaction(
        customer_id: CustomerId, transaction_id: TransactionId, request: Request, state: State
    ) -> Response:
        if not _ID.fullmatch(transaction_id):
            detail = (
                f"transaction_id must be 1-64 characters of [A-Za-z0-9._:-], not {transaction_id!r}"
            )
            return _count(state, time.monotonic(), error(422, "invalid_transaction_id", detail))
        path = f"/transactions/{transaction_id}"
        return await forward(state, request.headers.raw, customer_id, "GET", path, b"")

    @app.get(
        "/v1/customers/{customer_id}/account",
        response_class=JSONResponse,
        responses={200: {"model": AccountView}, **errors(*_RELAYED)},
        openapi_extra={"parameters": [CUSTOMER_ID_PARAMETER]},
    )
    async def get_account(customer_id: CustomerId, request: Request, state: State) -> Response:
        return await forward(state, request.headers.raw, customer_id, "GET", "/account", b"")

    @app.get(
        "/v1/routes/{customer_id}",
        response_class=JSONResponse,
        responses={200: {"model": RouteView}, **errors(422)},
        openapi_extra={"parameters": [CUSTOMER_ID_PARAMETER]},
    )
    async def get_route(customer_id: CustomerId, state: State) -> Response:
        try:
            unit = state.topology.unit_of(customer_id)
        except ValueError as exc:
            return error(422, "invalid_customer_id", str(exc))
        route = state.routes.table().get(unit)
        return JSONResponse(
            {
                "customer_id": customer_id,
                "bucket": state.topology.bucket_of(customer_id),
                "unit": unit,
                "site": route.site if route else None,
                "epoch": route.epoch if route else None,
            }
        )

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", response_class=JSONResponse, responses=errors(503))
    async def readyz(state: State) -> Response:
        table = state.routes.table()
        missing = [u for u in state.topology.units if table.get(u) is None]
        if missing:
            return error(503, "routes_missing", f"no route yet for {', '.join(missing)}", True)
        return JSONResponse({"status": "ready", "units": len(state.topology.units)})

    @app.get("/metrics", response_class=PlainTextResponse, responses=PROMETHEUS)
    async def metrics(state: State) -> Response:
        return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)


async def _forward_write(scope: Scope, customer_id: str, body: bytes) -> Response:
    """What the write route does, for :class:`WriteLane` (``scope["app"]`` is this app)."""
    state: RouterState = scope["app"].state.router
    return await forward(state, scope["headers"], customer_id, "POST", "/transactions", body)


async def forward(
    state: RouterState,
    received: list[tuple[bytes, bytes]],
    customer_id: str,
    method: str,
    path: str,
    body: bytes,
) -> Response:
    """Send the request to the unit's primary; re-route and retry once (module docstring).
    ``received`` are the client's headers as sent (ASGI's raw pairs)."""
    started = time.monotonic()
    try:
        unit = state.topology.unit_of(customer_id)
    except ValueError as exc:
        return _count(state, started, error(422, "invalid_customer_id", str(exc)))
    # Raw bytes: a header value is passed on as the client sent it, never re-encoded.
    headers = [(k, v) for k, v in received if k.lower() in PASSED_REQUEST_HEADERS]
    table = state.routes.table()
    reason = "no route"
    timed_out: Route | None = None
    for attempt in range(2):
        if attempt:
            table = await asyncio.to_thread(state.routes.refresh)
        route = table.get(unit)
        if route is None:
            reason = f"no route for unit {unit}"
            continue
        if route == timed_out:
            # Same target that just timed out: a second wait would only double the
            # client's wait on a dead site; its Retry-After brings it back sooner.
            break
        url = f"{state.addresses.url(unit, route.site)}/v1/customers/{customer_id}{path}"
        try:
            upstream = await _ask(state, route, method, url, body, headers)
        except UpstreamError as exc:
            reason = f"{unit} in {route.site} (epoch {route.epoch}) unreachable: {exc.kind}"
            timed_out = route if exc.timed_out else None
            state.metrics.retries.labels(RETRY_TRANSPORT).inc()
            continue
        if upstream is None:
            # No re-read of the routes: at this rate that would be an etcd read per write
            # of a dead site; the watch brings the unit's new route when it moves.
            reason = (
                f"{unit} in {route.site} (epoch {route.epoch}) timed out just now; "
                "one request at a time probes it"
            )
            state.metrics.refusals.labels(unit).inc()
            break
        if upstream.status == 503 and attempt == 0:
            reason = f"{unit} in {route.site} (epoch {route.epoch}) not writable"
            state.metrics.retries.labels(RETRY_UNAVAILABLE).inc()
            continue
        return _count(state, started, _relay(upstream))
    return _count(state, started, error(503, "no_writable_primary", reason, retry=True))


async def _ask(
    state: RouterState,
    route: Route,
    method: str,
    url: str,
    body: bytes,
    headers: list[tuple[bytes, bytes]],
) -> Answer | None:
    """The answer of ``route``'s instance, or None when the route is suspect and its
    probe is out (nothing sent); raises :class:`UpstreamError` when it did not answer."""
    admission = state.suspects.admit(route)
    if admission is Admission.REFUSE:
        return None
    answered = timed_out = False
    try:
        answer = await state.upstreams.request(method, url, content=body, headers=headers)
        answered = True
        return answer
    except UpstreamError as exc:
        timed_out = exc.timed_out
        raise
    finally:
        probe = admission is Admission.PROBE
        state.suspects.settle(route, answered=answered, timed_out=timed_out, probe=probe)


def _relay(upstream: Answer) -> Response:
    headers = {k: v for k, v in upstream.headers if k in PASSED_RESPONSE_HEADERS}
    return Response(upstream.body, status_code=upstream.status, headers=headers)


def _count(state: RouterState, started: float, response: Response) -> Response:
    state.metrics.requests.labels(str(response.status_code)).inc()
    state.metrics.latency.observe(time.monotonic() - started)
    return response
