"""FastAPI dependencies shared by the routers."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials

from app.errors import ForbiddenError, UnauthorizedError
from app.service import UnitService
from failover.openapi import BEARER


def get_service(request: Request) -> UnitService:
    service: UnitService = request.app.state.service
    return service


ServiceDep = Annotated[UnitService, Depends(get_service)]


def require_token(
    service: ServiceDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)],
) -> None:
    """Admin and replication need ``Authorization: Bearer <token>`` (docs/design.md §3.8).

    401 without a bearer token, 403 with a wrong one, and 403 when this instance has no
    token configured: nothing mutating is anonymous. The OpenAPI document declares the
    scheme (:data:`failover.openapi.BEARER`) on every operation that depends on this.
    """
    if credentials is None:
        raise UnauthorizedError("send Authorization: Bearer <token> (the unit's admin token)")
    expected = service.token
    if expected is None:
        raise ForbiddenError("no admin token is configured on this instance (WATERTIGHT_TOKEN)")
    given = credentials.credentials.strip()
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise ForbiddenError("wrong bearer token")


TokenDep = Annotated[None, Depends(require_token)]
