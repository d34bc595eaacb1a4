"""What every watertight HTTP service tells about itself in its OpenAPI document.

The router, the controller and the unit service all answer errors as ``{"error": code,
"detail": text}`` (docs/design.md §5), with ``detail`` a sentence, never FastAPI's list of
validation errors. This module is the one definition of that documentation:

- :class:`ErrorBody` is the error schema, and :func:`errors` lists it for each status an
  operation can answer (FastAPI's own ``HTTPValidationError`` is never published: a route
  that names 422 here replaces it, and :func:`truthful_openapi` refuses a document that
  still carries it);
- :func:`bearer` declares one bearer scheme per credential role (``replication``,
  ``admin``, ``operator``, ``approver``) in ``components.securitySchemes`` and puts the
  role's ``security`` requirement on every operation that needs it (the services still do
  their own 401/403 checks, so a missing token is a 401 in the error shape);
- :data:`PROMETHEUS` documents ``/metrics`` as ``text/plain`` exposition.

Like :mod:`failover.body_limit`, this is a part of ``failover`` the unit service may import
(an import-linter contract says so): FastAPI and pydantic only, no adapter.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.security import HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

_WHY = {
    400: "The request cannot be read (e.g. a malformed header).",
    401: "No bearer token: send `Authorization: Bearer <token>`.",
    403: "The bearer token is not a credential of the role this needs (the detail names it).",
    404: "Nothing by that name.",
    409: "Refused: carrying it out would conflict with the current state.",
    413: "The body is larger than this endpoint's limit (the detail names the limit).",
    421: "The customer belongs to another unit (`unit` names it).",
    422: "Invalid input: the detail names the field and what is wrong with it.",
    503: "Not available now (not the primary, not the leader, no route, etcd down); "
    "retry after `Retry-After` seconds where it is given.",
}


class ErrorBody(BaseModel):
    """Every error answer. Some carry more members (``unit`` on 421, ``leader_url`` on
    503 ``not_leader``), hence the open object."""

    model_config = ConfigDict(extra="allow", title="Error")

    error: str = Field(description="A short machine code, e.g. `invalid_request`.")
    detail: str = Field(description="What was wrong and what to do about it, for a person.")


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` entry of a route for the error statuses it can answer."""
    return {status: {"model": ErrorBody, "description": _WHY[status]} for status in statuses}


_ROLE_USE = {
    "replication": "a unit instance calling another instance of its unit",
    "admin": "a controller calling a unit's admin API",
    "operator": "a person moving, failing back, freezing or unfreezing",
    "approver": "a named person approving a data-losing promotion",
}


def bearer(role: str) -> HTTPBearer:
    """Use as ``Security(bearer(role))``: it yields the credentials or None and declares
    the role's scheme (named after the role, docs/security.md); the caller answers
    401/403 itself, in the error shape."""
    return HTTPBearer(
        auto_error=False,
        scheme_name=role,
        description=f"The {role} credential ({_ROLE_USE[role]}): `Authorization: Bearer <token>`.",
    )


PROMETHEUS: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Prometheus text exposition format 0.0.4.",
        "content": {"text/plain": {"schema": {"type": "string"}}},
    }
}
"""``responses=`` of a ``/metrics`` route (with ``response_class=PlainTextResponse``)."""


def json_body(schema: dict[str, Any], description: str) -> dict[str, Any]:
    """``openapi_extra`` documenting a required JSON request body a handler reads itself."""
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {"application/json": {"schema": schema}},
        }
    }


def truthful_openapi(app: FastAPI, description: str) -> Callable[[], dict[str, Any]]:
    """``app.openapi`` that says ``description`` and carries none of FastAPI's default
    validation-error schemas (they describe answers the services never give)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                openapi_version=app.openapi_version,
                description=description,
                routes=app.routes,
            )
            schemas = document.get("components", {}).get("schemas", {})
            leftover = {"HTTPValidationError", "ValidationError"} & set(schemas)
            if leftover:
                raise RuntimeError(
                    f"a route answers 422 without listing it in errors(): {sorted(leftover)}"
                )
            app.openapi_schema = _exact_integers(document)
        return app.openapi_schema

    return openapi


_INT64_MAX = 2**63 - 1
_BOUNDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")


def _exact_integers(node: Any) -> Any:
    """Integer bounds as the integers the models say.

    FastAPI's OpenAPI model holds every bound as a float, so ``le=2**63 - 1`` comes out
    as ``9.223372036854776e+18``: 2**63, one more than any field accepts, which a client
    (or a fuzzer) would take as valid. Every integer field here is 64-bit bounded, so a
    bound at or past 2**63 is the int64 maximum."""
    if isinstance(node, list):
        return [_exact_integers(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _exact_integers(value) for key, value in node.items()}
    if out.get("type") == "integer":
        for key in _BOUNDS:
            if isinstance(out.get(key), float):
                out[key] = min(int(out[key]), _INT64_MAX)
    return out
