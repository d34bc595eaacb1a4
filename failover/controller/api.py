"""The controller's HTTP API (docs/design.md §5). Errors are ``{"error", "detail"}``.

Reads (``/v1/status``, ``/v1/events``, ``/metrics``) are open; everything that changes
state needs ``Authorization: Bearer <token>`` of its role (docs/security.md): moves,
failback, freeze and unfreeze the operator credential, approvals an approver's, whose name
is the approver recorded (401 without a token, 403 naming the role needed). Moves
(switchover, failover, failback) run on the leader only: a non-leader answers 503
``not_leader`` with ``leader_url``. Approvals and freeze are etcd writes any controller
can make (so a person can act while the leader is away).

Everything a request carries is bounded (names 64 characters, integers 64 bits, bodies
64 KiB: :mod:`failover.web`), so bad input is a 4xx, never a 500 from a layer below.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Path, Query, Request, Security
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi.security import HTTPAuthorizationCredentials
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, JsonValue, model_validator

from failover.body_limit import BodyLimit
from failover.controller.console_api import attach_console, install_console
from failover.controller.runtime import Runtime
from failover.credentials import (
    Caller,
    CredentialsError,
    Role,
    UnauthenticatedError,
    WrongCredentialError,
)
from failover.dcs import DcsError
from failover.errors import InvalidRequest, NotLeader, WatertightError
from failover.events import DRILL_NOTE, EventPage
from failover.http_server import FASTAPI_APP
from failover.ledger_api import integral
from failover.openapi import PROMETHEUS, bearer, errors, truthful_openapi
from failover.web import ID_PATTERN, INT64_MAX, install_error_shape

Name = Annotated[str, Field(min_length=1, max_length=64)]
"""A unit, site or person: etcd keys and event columns hold 64 characters."""
MAX_EVENTS_PAGE = 10_000
log = logging.getLogger(__name__)


DESCRIPTION = (
    "One controller of the three (docs/controller.md): status and events are open; moves "
    "and freeze need the operator credential, approvals an approver's (docs/security.md). "
    "Moves run on the leader only (503 "
    '`not_leader` with `leader_url` elsewhere). Every error is `{"error": code, "detail": '
    "text}`."
)
# Either name is a string or null (the CLI sends null for the one it was not given);
# exactly one of them must be a string.
_ONE_OF_UNIT_OR_SITE: list[JsonValue] = [
    {"required": ["unit"], "properties": {"unit": {"type": "string"}, "site": {"type": "null"}}},
    {"required": ["site"], "properties": {"site": {"type": "string"}, "unit": {"type": "null"}}},
]


class MoveRequest(BaseModel):
    """A switchover or manual failover: exactly one of ``unit`` (that unit) or ``site``
    (every unit whose primary is there), and the target site ``to``."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"oneOf": _ONE_OF_UNIT_OR_SITE})
    unit: Name | None = None
    site: Name | None = None
    to: Name

    @model_validator(mode="after")
    def _one_of_unit_or_site(self) -> MoveRequest:
        if (self.unit is None) == (self.site is None):
            raise ValueError("give exactly one of 'unit' or 'site'")
        return self


class FailbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    site: Name


class ApproveRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    accept_loss: Annotated[
        int | None, Field(strict=True, ge=0, le=INT64_MAX), BeforeValidator(integral)
    ] = None
    by: Name | None = None
    """Optional: when given it must be the name the approver credential carries (403
    otherwise); the name recorded is always the credential's."""


class FreezeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Annotated[str, Field(max_length=1000)] = "frozen by an operator"
    by: Name = "operator"


class DrillNoteRequest(BaseModel):
    """A running drill's step, for the timeline of every console (docs/monitoring.md)."""

    model_config = ConfigDict(extra="forbid")
    drill: Annotated[str, Field(min_length=1, max_length=200)]
    note: Annotated[str, Field(min_length=1, max_length=1000)]


class _HttpError(Exception):
    def __init__(self, status: int, code: str, detail: str, **extra: Any) -> None:
        self.status, self.code, self.detail, self.extra = status, code, detail, extra


def create_app(runtime: Runtime) -> FastAPI:
    """The controller's API around ``runtime``."""
    app = controller_api()
    app.state.runtime = runtime
    attach_console(app, runtime)
    app.add_middleware(BodyLimit)
    return app


def controller_api() -> FastAPI:
    """The routes and error handlers, without a runtime (:func:`create_app` adds one):
    what the published OpenAPI document is generated from (docs/api/controller.json)."""
    app = FastAPI(title="watertight controller", **FASTAPI_APP)
    install_error_shape(app, "controller")
    _errors(app)
    _reads(app)
    install_console(app)
    _writes(app)
    app.openapi = truthful_openapi(app, DESCRIPTION)  # type: ignore[method-assign]
    return app


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(_runtime)]
# A move: the token, a body, and what the move itself can refuse (unknown names are 404,
# unsafe moves 409, not the leader or etcd down 503).
_MOVE = errors(401, 403, 404, 409, 413, 422, 503)


def _reads(app: FastAPI) -> None:
    @app.get("/healthz")
    def healthz(runtime: RuntimeDep) -> dict[str, str]:
        return {"status": "ok", "site": runtime.site}

    @app.get("/v1/status")
    def status(runtime: RuntimeDep) -> dict[str, Any]:
        return runtime.status()

    @app.get("/v1/events", responses=errors(422))
    def events(
        runtime: RuntimeDep,
        since: Annotated[int, Query(ge=0, le=INT64_MAX)] = 0,
        kind: Annotated[str | None, Query(max_length=64)] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_EVENTS_PAGE)] = 1000,
    ) -> EventPage:
        """This controller's events after id ``since``, oldest first (failover.events);
        at most ``limit`` (1..10 000) of them, ``since`` a 64-bit id (422 beyond)."""
        found = runtime.records.events(since_id=since, kind=kind, limit=limit)
        return EventPage(controller=runtime.site, events=found)

    @app.get("/metrics", response_class=PlainTextResponse, responses=PROMETHEUS)
    def metrics(runtime: RuntimeDep) -> Response:
        runtime.refresh_metrics()
        return Response(generate_latest(runtime.metrics.registry), media_type=CONTENT_TYPE_LATEST)


_Presented = HTTPAuthorizationCredentials | None


def _caller(runtime: Runtime, credentials: _Presented, role: Role) -> Caller:
    """Who the bearer token proves for ``role``: 401 without one, 403 naming the role
    when it is not one of that role's current credentials (another role's included) or
    this controller cannot read the role's file (logged, with file and line)."""
    try:
        return runtime.credentials.verify(credentials.credentials if credentials else None, role)
    except UnauthenticatedError as exc:
        raise _HttpError(401, "unauthorized", str(exc)) from None
    except WrongCredentialError as exc:
        raise _HttpError(403, "forbidden", str(exc)) from None
    except CredentialsError as exc:
        log.error("cannot verify a %s credential: %s", role, exc)
        detail = f"this controller cannot read its {role} credentials (its log says why)"
        raise _HttpError(403, "forbidden", detail) from None


def _operator(
    runtime: RuntimeDep, credentials: Annotated[_Presented, Security(bearer(Role.OPERATOR))]
) -> Runtime:
    """The runtime, for a request with the operator credential."""
    _caller(runtime, credentials, Role.OPERATOR)
    return runtime


def _approver(
    runtime: RuntimeDep, credentials: Annotated[_Presented, Security(bearer(Role.APPROVER))]
) -> Caller:
    """The approver a request's credential names."""
    return _caller(runtime, credentials, Role.APPROVER)


OperatorDep = Annotated[Runtime, Depends(_operator)]
ApproverDep = Annotated[Caller, Depends(_approver)]


def _writes(app: FastAPI) -> None:
    @app.post("/v1/switchover", responses=_MOVE)
    def switchover(body: MoveRequest, runtime: OperatorDep) -> dict[str, Any]:
        return {"moves": runtime.move(body.unit, body.site, body.to, "switchover")}

    @app.post("/v1/failover", responses=_MOVE)
    def failover(body: MoveRequest, runtime: OperatorDep) -> dict[str, Any]:
        return {"moves": runtime.move(body.unit, body.site, body.to, "failover")}

    @app.post("/v1/failback", responses=_MOVE)
    def failback(body: FailbackRequest, runtime: OperatorDep) -> dict[str, Any]:
        return {"moves": runtime.failback(body.site)}

    @app.post("/v1/approvals/{approval_id}", responses=_MOVE)
    def approve(
        approval_id: Annotated[str, Path(pattern=ID_PATTERN)],
        body: ApproveRequest,
        runtime: RuntimeDep,
        approver: ApproverDep,
    ) -> dict[str, Any]:
        """The approver is the name the credential carries; a ``by`` naming anyone else
        is refused (403). Granted once the topology's ``distinct_approvers`` approved."""
        if body.by is not None and body.by != approver.name:
            detail = f"by {body.by!r} is not the approver this credential names"
            raise _HttpError(403, "forbidden", detail)
        return runtime.approve(approval_id, body.accept_loss, approver.name)

    @app.post("/v1/drill-notes", responses=errors(401, 403, 413, 422))
    def drill_note(body: DrillNoteRequest, runtime: OperatorDep) -> dict[str, Any]:
        """Record what a running drill just did as a ``drill_note`` event of this
        controller, so its console's timeline shows the drill's own steps. A note is
        only words in the audit trail: it changes no decision. Any controller takes one
        (each console shows its own controller's events)."""
        event = runtime.records.record(
            DRILL_NOTE, f"drill {body.drill}: {body.note}", drill=body.drill, note=body.note
        )
        return {"recorded": event.id}

    @app.post("/v1/freeze", responses=errors(401, 403, 413, 422, 503))
    def freeze(body: FreezeRequest, runtime: OperatorDep) -> dict[str, Any]:
        runtime.state.freeze(body.reason, body.by)
        runtime.records.record("freeze", f"frozen by {body.by}: {body.reason}")
        return {"frozen": True, "reason": body.reason}

    @app.post("/v1/unfreeze", responses=errors(401, 403, 503))
    def unfreeze(runtime: OperatorDep) -> dict[str, Any]:
        was = runtime.state.unfreeze()
        runtime.records.record("unfreeze", "unfrozen" if was else "unfreeze: was not frozen")
        return {"frozen": False, "was_frozen": was}


def _errors(app: FastAPI) -> None:
    def body(code: str, detail: str, **extra: Any) -> dict[str, Any]:
        return {"error": code, "detail": detail, **extra}

    @app.exception_handler(_HttpError)
    def http_error(_: Request, exc: _HttpError) -> JSONResponse:
        return JSONResponse(body(exc.code, exc.detail, **exc.extra), status_code=exc.status)

    @app.exception_handler(NotLeader)
    def not_leader(request: Request, exc: NotLeader) -> JSONResponse:
        url = _runtime(request).leader_url()
        headers = {"Retry-After": "1"}
        return JSONResponse(
            body(exc.code, str(exc), leader_url=url), status_code=503, headers=headers
        )

    @app.exception_handler(WatertightError)
    def watertight_error(_: Request, exc: WatertightError) -> JSONResponse:
        status = exc.http_status if exc.http_status < 500 else 409
        if isinstance(exc, InvalidRequest):
            status = 404 if "unknown" in exc.detail else 422
        return JSONResponse(body(exc.code, str(exc)), status_code=status)

    @app.exception_handler(DcsError)
    def dcs_error(_: Request, exc: DcsError) -> JSONResponse:
        detail = (
            f"the quorum store (etcd) cannot take this change now: {exc}; with two of three "
            "members down, restore etcd quorum first (docs/controller.md §12)"
        )
        return JSONResponse(body("quorum_store_unavailable", detail), status_code=503)
