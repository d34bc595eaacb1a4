"""FastAPI dependencies shared by the routers."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials

from app.errors import ForbiddenError, UnauthorizedError
from app.service import UnitService
from failover.credentials import CredentialsError, Role, UnauthenticatedError, WrongCredentialError
from failover.openapi import bearer

log = logging.getLogger(__name__)


async def get_service(request: Request) -> UnitService:
    # async: FastAPI runs a plain function dependency in a worker thread, per request.
    service: UnitService = request.app.state.service
    return service


ServiceDep = Annotated[UnitService, Depends(get_service)]
_Presented = HTTPAuthorizationCredentials | None


def _check(service: UnitService, credentials: _Presented, role: Role) -> None:
    """401 without a bearer token; 403 naming ``role`` when the token is not one of its
    current credentials (another role's included), when this instance holds none, or
    when it cannot read that role's file (logged with file and line, never the token).
    Nothing mutating is anonymous (docs/security.md)."""
    try:
        service.credentials.verify(credentials.credentials if credentials else None, role)
    except UnauthenticatedError as exc:
        raise UnauthorizedError(str(exc)) from None
    except WrongCredentialError as exc:
        raise ForbiddenError(str(exc)) from None
    except CredentialsError as exc:
        log.error("cannot verify a %s credential: %s", role, exc)
        raise ForbiddenError(
            f"this instance cannot read its {role} credentials (its log says why)"
        ) from None


# The two checks below are async on purpose: FastAPI runs a plain function dependency in
# a worker thread, and a standby checks the replication credential on every shipment.
# A check is a stat of the credentials file (re-read only when it changed) and a
# constant-time compare: nothing that would hold up the event loop.


async def require_admin(
    service: ServiceDep, credentials: Annotated[_Presented, Security(bearer(Role.ADMIN))]
) -> None:
    """``/admin/*``: the admin credential (a controller)."""
    _check(service, credentials, Role.ADMIN)


async def require_replication(
    service: ServiceDep, credentials: Annotated[_Presented, Security(bearer(Role.REPLICATION))]
) -> None:
    """``/replication/*``: the replication credential (another instance of this unit)."""
    _check(service, credentials, Role.REPLICATION)


AdminDep = Annotated[None, Depends(require_admin)]
ReplicationDep = Annotated[None, Depends(require_replication)]
