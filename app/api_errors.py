"""Every error answer is ``{"error": code, "detail": text}`` (docs/design.md §5), including
FastAPI's own validation errors, Starlette's 404/405, the body limit's 413 and anything
unexpected (500). A body FastAPI cannot even parse (not UTF-8, a number too long for any
field, nesting too deep) is bad input like any other invalid JSON: 422 ``invalid_request``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from app.errors import UnitError
from app.limits import BODY_TOO_LARGE

log = logging.getLogger(__name__)

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    413: BODY_TOO_LARGE,
}
# Starlette's routing says only "Not Found": say what was asked for.
_ROUTING_DETAILS = {
    404: "no such endpoint: {method} {path}",
    405: "{method} is not allowed on {path}",
}
# FastAPI's answer to a body it could not decode; the cause says why.
_UNPARSED_BODY = "There was an error parsing the body"


def error_response(
    status: int, code: str, detail: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    return JSONResponse({"error": code, "detail": detail, **extra}, status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers on ``app``."""

    async def unit_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, UnitError)
        return error_response(exc.status, exc.code, exc.detail, exc.headers, **exc.extra)

    async def validation_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return error_response(422, "invalid_request", describe_validation(exc.errors()))

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 400 and exc.detail == _UNPARSED_BODY:
            return error_response(422, "invalid_request", describe_unparsed(exc.__cause__))
        code = _HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
        detail = _ROUTING_DETAILS.get(exc.status_code, "{detail}").format(
            method=request.method, path=request.url.path, detail=exc.detail
        )
        return error_response(exc.status_code, code, detail, dict(exc.headers or {}))

    async def unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return error_response(500, "internal", "internal error; see the unit service log")

    app.add_exception_handler(UnitError, unit_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)


def describe_validation(errors: Sequence[Any]) -> str:
    """``body.amount_minor: Input should be greater than or equal to 1; ...``."""
    parts = []
    for error in errors[:5]:
        location = ".".join(str(x) for x in error.get("loc", ()))
        message = error.get("msg", "invalid")
        if error.get("type") == "json_invalid":
            message = "the body is not valid JSON"
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
