"""Every error answer is ``{"error": code, "detail": text}`` (docs/design.md §5), including
FastAPI's own validation errors and Starlette's 404/405."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from app.errors import UnitError

log = logging.getLogger(__name__)

_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized"}


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

    async def http_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        code = _HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
        return error_response(exc.status_code, code, str(exc.detail), dict(exc.headers or {}))

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
