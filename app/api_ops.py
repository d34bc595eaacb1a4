"""Health, readiness, unit status and metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import PlainTextResponse

from app import journal
from app.api_errors import error_response
from app.deps import ServiceDep
from failover.openapi import PROMETHEUS, errors

router = APIRouter()


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Alive: the process answers HTTP."""
    return {"status": "alive"}


@router.get("/readyz", response_model=None, responses=errors(503))
def readyz(service: ServiceDep) -> dict[str, Any] | Response:
    """Ready to serve its role: the database answers and the role is known."""
    if not service.db.ping():
        return error_response(503, "not_ready", "the database does not answer")
    role = service.node.role
    return {"status": "ready", "role": role.role, "epoch": role.epoch}


@router.get("/v1/unit")
async def unit(service: ServiceDep) -> dict[str, Any]:
    """Unit, site, role, epoch, last lsn; for a primary, each standby's applied lsn and lag."""
    # Three observers probe every instance every second: while no write has ended since
    # the last probe, the journal position is known without a database read; after one,
    # it is read here on the loop, one indexed read, cheaper than a worker thread's
    # hand-off (docs/design.md §5).
    return service.queries.unit(service.queries.journal_position())


@router.get("/metrics", response_class=PlainTextResponse, responses=PROMETHEUS)
def metrics(service: ServiceDep) -> Response:
    """Prometheus text exposition (docs/unit-service.md)."""
    with service.db.read() as session:
        last = journal.last_lsn(session)
    replicator = service.node.replicator
    links = replicator.statuses() if replicator is not None else []
    durable = replicator.durable_lsn() if replicator is not None else 0
    body = service.metrics.render(service.node.role, last, links, durable)
    return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")
