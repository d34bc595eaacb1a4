"""The unit service's error hierarchy.

Every error knows its HTTP status and a short machine code; the API turns it into
``{"error": code, "detail": text, ...extra}`` (docs/design.md §5). Details are written for the
person reading them: what was wrong and what to do about it.
"""

from __future__ import annotations

from collections.abc import Mapping


class UnitError(Exception):
    """Base of every error the unit service answers with. Subclasses set status and code."""

    status: int = 500
    code: str = "internal"

    def __init__(
        self,
        detail: str,
        *,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})


class InvalidRequestError(UnitError):
    """Malformed input: bad customer id, idempotency key, JSON or field values."""

    status = 422
    code = "invalid_request"


class WrongUnitError(UnitError):
    """The customer belongs to another unit; ``extra["unit"]`` names the right one."""

    status = 421
    code = "wrong_unit"


class NotFoundError(UnitError):
    """No such transaction (for this customer)."""

    status = 404
    code = "not_found"


class IdempotencyConflictError(UnitError):
    """The idempotency key was already used with a different request."""

    status = 409
    code = "idempotency_conflict"


class StaleEpochError(UnitError):
    """A role change or replication message carries an epoch older than ours."""

    status = 409
    code = "stale_epoch"


class RoleConflictError(UnitError):
    """A role change that would break "one primary per epoch" (docs/design.md §3.1)."""

    status = 409
    code = "role_conflict"


class HandshakeRequiredError(UnitError):
    """Journal entries arrived before the sender completed a handshake at its epoch."""

    status = 409
    code = "handshake_required"


class UnavailableError(UnitError):
    """Temporarily unable to serve a write; the client should retry (503 + Retry-After)."""

    status = 503
    code = "unavailable"

    def __init__(self, detail: str, *, retry_after_seconds: int = 1) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after_seconds)})


class NotWritableError(UnavailableError):
    """This instance is not a writable primary (standby, fenced, or lease lost)."""

    code = "not_writable"


class QuorumCommitError(UnavailableError):
    """Too few standbys confirmed in time for the commit rule: the write is NOT
    acknowledged (it may become durable later; a retry with the same key tells)."""

    code = "quorum_not_reached"


class LeaseRefusedError(UnavailableError):
    """A promotion could not take the primary lease (someone else holds it)."""

    code = "lease_unavailable"


class UnauthorizedError(UnitError):
    """No bearer token on an admin or replication endpoint."""

    status = 401
    code = "unauthorized"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"})


class ForbiddenError(UnitError):
    """A wrong bearer token, or no token configured on this instance."""

    status = 403
    code = "forbidden"
