"""What the orchestrator's HTTP services (router, controller) share: one error shape, a
request body limit, and the bounds of what a request may carry.

- Every error is ``{"error": code, "detail": text}`` (docs/design.md §5), the framework's
  own too: 404 ``not_found``, 405 ``method_not_allowed``, 413 ``body_too_large``, 422
  ``invalid_request`` (a body FastAPI cannot parse at all included: not UTF-8, a number
  too long, nesting too deep), and 500 ``internal`` for anything unexpected.
- :class:`failover.body_limit.BodyLimit` refuses a body above 64 KiB with 413 naming the
  limit: by ``Content-Length`` before reading it, or as soon as a chunked body passes it.

The body limit itself lives in :mod:`failover.body_limit`, shared with the unit service.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

log = logging.getLogger(__name__)

INT64_MAX = 2**63 - 1
"""Event ids, approvals' losses: what a signed 64-bit column or etcd's JSON reader holds."""
ID_PATTERN = r"^[A-Za-z0-9._:-]{1,64}$"
"""Customer, transaction and approval ids in a path: the unit service's customer-id rule."""

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
}
_ROUTING_DETAILS = {
    404: "no such endpoint: {method} {path}",
    405: "{method} is not allowed on {path}",
}
# FastAPI's answer to a body it could not decode; the cause says why.
_UNPARSED_BODY = "There was an error parsing the body"


def error(
    status: int, code: str, detail: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    """The error answer of every watertight endpoint."""
    return JSONResponse({"error": code, "detail": detail, **extra}, status, headers=headers)


def install_error_shape(app: FastAPI, service: str) -> None:
    """Answer the framework's errors (and anything unexpected) in the one shape."""

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 400 and exc.detail == _UNPARSED_BODY:
            return error(422, "invalid_request", describe_unparsed(exc.__cause__))
        code = _CODES.get(exc.status_code, f"http_{exc.status_code}")
        detail = _ROUTING_DETAILS.get(exc.status_code, "{detail}").format(
            method=request.method, path=request.url.path, detail=exc.detail
        )
        return error(exc.status_code, code, detail, dict(exc.headers or {}))

    async def invalid(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return error(422, "invalid_request", describe_validation(exc.errors()))

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return error(500, "internal", f"internal error; see the {service} log")

    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(Exception, unexpected)


def describe_validation(errors: Any) -> str:
    """``body.unit: String should have at most 64 characters; ...`` (the first five)."""
    parts = []
    for e in list(errors)[:5]:
        location = ".".join(str(p) for p in e.get("loc", ()))
        message = "the body is not valid JSON" if e.get("type") == "json_invalid" else e["msg"]
        parts.append(f"{location}: {message}" if location else message)
    return "; ".join(parts)


def describe_unparsed(cause: BaseException | None) -> str:
    """Why a body is not JSON we can read, from the exception FastAPI wrapped."""
    if isinstance(cause, UnicodeDecodeError):
        reason = f"it is not UTF-8 (byte {cause.object[cause.start]:#04x} at {cause.start})"
    elif isinstance(cause, RecursionError):
        reason = "it is nested too deeply"
    elif isinstance(cause, ValueError) and "digits" in str(cause):
        reason = "a number in it has more digits than any field holds"
    else:
        reason = type(cause).__name__ if cause is not None else "it could not be decoded"
    return f"the body is not valid JSON: {reason}"
