"""Credential-protected endpoints: ``/admin`` (role changes, catch-up, discarded entries,
the gray-failure drill's fault) needs the admin credential, ``/replication`` the
replication one (docs/security.md).

A credential proves who asks, not that what they ask makes sense: every site a request names
must be a site of the topology (422 naming the field), so no typo or fuzzer can leave an
instance following a primary that does not exist.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import APIRouter, Response

from app.deps import AdminDep, ReplicationDep, ServiceDep
from app.errors import InvalidRequestError
from app.gray_fault import GrayFaultRequest
from app.protocol import (
    ApplyRequest,
    ApplyResult,
    CatchUpRequest,
    CatchUpResult,
    ExportRequest,
    ExportResult,
    HandshakeRequest,
    HandshakeResult,
)
from app.roles import RoleRequest
from app.service import UnitService
from failover.openapi import errors

# Every route here needs its role's credential (401/403) and, but for the two GETs, takes a body
# (413, 422); each adds what its own steps can refuse.
_GUARDED = (401, 403)
_WRITE = (*_GUARDED, 413, 422)
admin = APIRouter(prefix="/admin")
replication = APIRouter(prefix="/replication")


@admin.post("/role", responses=errors(*_WRITE, 409, 503))
def set_role(request: RoleRequest, service: ServiceDep, _auth: AdminDep) -> dict[str, Any]:
    """Promote, demote or fence this instance (see docs/unit-service.md)."""
    if request.primary_site is not None:
        require_sites(service, "primary_site", [request.primary_site])
    if request.standbys is not None:
        require_sites(service, "standbys", request.standbys)
    service.node.change(request)
    return service.queries.unit()


@admin.post("/catch-up", responses=errors(*_WRITE, 409, 503))
def catch_up(request: CatchUpRequest, service: ServiceDep, _auth: AdminDep) -> CatchUpResult:
    """Copy what a more advanced copy holds before a promotion (docs/unit-service.md)."""
    return service.catch_up.run(request)


@admin.get("/discarded-entries", responses=errors(*_GUARDED))
def discarded_entries(service: ServiceDep, _auth: AdminDep) -> dict[str, Any]:
    """Journal entries thrown away when this instance re-synced from a newer primary."""
    entries = service.queries.discarded()
    return {"count": len(entries), "entries": entries}


@admin.post("/gray-fault", responses=errors(*_WRITE))
def set_gray_fault(
    request: GrayFaultRequest, service: ServiceDep, _auth: AdminDep
) -> dict[str, Any]:
    """Set (``decline-all``, ``slow`` with ``delay_ms``) or clear (``none``) this
    instance's gray fault: every probe stays green while every new write is declined or
    delayed (docs/unit-service.md, the gray-unit drill in docs/drills.md)."""
    return service.gray.set(request)


@admin.get("/gray-fault", responses=errors(*_GUARDED))
def get_gray_fault(service: ServiceDep, _auth: AdminDep) -> dict[str, Any]:
    """The standing gray fault: ``{"mode", "delay_ms", "since"}``."""
    return service.gray.view()


@replication.post("/handshake", responses=errors(*_WRITE, 409))
def handshake(
    request: HandshakeRequest, service: ServiceDep, _auth: ReplicationDep
) -> HandshakeResult:
    require_sites(service, "primary_site", [request.primary_site])
    return service.receiver.handshake(request)


@replication.post("/entries", responses=errors(*_WRITE, 409))
def entries(request: ApplyRequest, service: ServiceDep, _auth: ReplicationDep) -> ApplyResult:
    require_sites(service, "primary_site", [request.primary_site])
    return service.receiver.apply(request)


@replication.post(
    "/export",
    response_class=Response,
    responses={
        200: {"model": ExportResult, "description": "Successful Response"},
        **errors(*_WRITE),
    },
)
def export(request: ExportRequest, service: ServiceDep, _auth: ReplicationDep) -> Response:
    """This copy's journal shape and entries, for another copy catching up from it."""
    return Response(service.receiver.export(request), media_type="application/json")


@replication.get("/digest", responses=errors(*_GUARDED))
def digest(service: ServiceDep, _auth: ReplicationDep) -> dict[str, Any]:
    """Fingerprints of the journal and ledger: equal digests mean equal ledgers."""
    return service.queries.digest()


def require_sites(service: UnitService, field: str, sites: Iterable[str]) -> None:
    """422 naming ``field`` unless every site in ``sites`` is a site of the topology."""
    known = service.topology.site_names
    unknown = [site for site in sites if site not in known]
    if unknown:
        raise InvalidRequestError(
            f"{field}: {', '.join(map(repr, unknown))} is not a site of topology "
            f"{service.topology.name} ({', '.join(known)})"
        )
