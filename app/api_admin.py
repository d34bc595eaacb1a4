"""Token-protected endpoints: role changes, discarded entries, and replication."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from app.deps import ServiceDep, TokenDep
from app.protocol import (
    ApplyRequest,
    ApplyResult,
    CatchUpRequest,
    CatchUpResult,
    ExportRequest,
    HandshakeRequest,
    HandshakeResult,
)
from app.roles import RoleRequest

admin = APIRouter(prefix="/admin")
replication = APIRouter(prefix="/replication")


@admin.post("/role")
def set_role(request: RoleRequest, service: ServiceDep, _auth: TokenDep) -> dict[str, Any]:
    """Promote, demote or fence this instance (see docs/unit-service.md)."""
    service.node.change(request)
    return service.queries.unit()


@admin.post("/catch-up")
def catch_up(request: CatchUpRequest, service: ServiceDep, _auth: TokenDep) -> CatchUpResult:
    """Copy what a more advanced copy holds before a promotion (docs/unit-service.md)."""
    return service.catch_up.run(request)


@admin.get("/discarded-entries")
def discarded_entries(service: ServiceDep, _auth: TokenDep) -> dict[str, Any]:
    """Journal entries thrown away when this instance re-synced from a newer primary."""
    entries = service.queries.discarded()
    return {"count": len(entries), "entries": entries}


@replication.post("/handshake")
def handshake(request: HandshakeRequest, service: ServiceDep, _auth: TokenDep) -> HandshakeResult:
    return service.receiver.handshake(request)


@replication.post("/entries")
def entries(request: ApplyRequest, service: ServiceDep, _auth: TokenDep) -> ApplyResult:
    return service.receiver.apply(request)


@replication.post("/export")
def export(request: ExportRequest, service: ServiceDep, _auth: TokenDep) -> Response:
    """This copy's journal shape and entries, for another copy catching up from it."""
    return Response(service.receiver.export(request), media_type="application/json")


@replication.get("/digest")
def digest(service: ServiceDep, _auth: TokenDep) -> dict[str, Any]:
    """Fingerprints of the journal and ledger: equal digests mean equal ledgers."""
    return service.queries.digest()
