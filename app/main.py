"""The FastAPI application of one unit instance."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.types import Lifespan

from app import api_admin, api_ledger, api_ops
from app.api_errors import install_error_handlers
from app.lease import PrimaryLease
from app.lease_factory import build_lease
from app.limits import UNIT_LIMITS, BodyLimit, unit_body_limits
from app.metrics import MetricsMiddleware
from app.probe_lane import ProbeLane
from app.service import UnitService, build_service
from app.settings import UnitSettings
from app.shipment_lane import ShipmentLane
from app.write_lane import WriteLane
from failover.http_server import FASTAPI_APP
from failover.openapi import truthful_openapi

TITLE = "watertight unit service"
DESCRIPTION = (
    "One unit instance: the ledger API the router forwards to, health, metrics, and the "
    "token-protected role and replication endpoints (docs/unit-service.md). Every error is "
    '`{"error": code, "detail": text}`.'
)


def create_app(settings: UnitSettings, lease: PrimaryLease | None = None) -> FastAPI:
    """Build the app; ``lease`` defaults to :func:`app.lease_factory.build_lease`.

    The service starts (schema, role, lease, replication) in the app's lifespan.
    """
    service = build_service(settings, lease if lease is not None else build_lease(settings))
    return app_for(service)


def app_for(service: UnitService) -> FastAPI:
    """An app around an already built (not yet started) service."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(service.start)
        try:
            yield
        finally:
            await run_in_threadpool(service.stop)

    app = unit_api(lifespan)
    app.state.service = service
    limits = unit_body_limits(service.topology.replication.batch_size)
    app.add_middleware(ProbeLane, service=service)
    app.add_middleware(ShipmentLane, service=service)
    app.add_middleware(WriteLane, service=service)
    app.add_middleware(
        BodyLimit, limit_of=limits, docs=UNIT_LIMITS
    )  # inside metrics: 413s are counted
    app.add_middleware(MetricsMiddleware, metrics=service.metrics)
    return app


def unit_api(lifespan: Lifespan[FastAPI] | None = None) -> FastAPI:
    """The unit service's routes and error handlers, without a service: what
    :func:`app_for` serves, and what its published OpenAPI document is generated from
    (docs/api/unit-service.json)."""
    app = FastAPI(title=TITLE, lifespan=lifespan, docs_url=None, redoc_url=None, **FASTAPI_APP)
    install_error_handlers(app)
    app.include_router(api_ledger.router)
    app.include_router(api_ops.router)
    app.include_router(api_admin.admin)
    app.include_router(api_admin.replication)
    app.openapi = truthful_openapi(app, DESCRIPTION)  # type: ignore[method-assign]
    return app
