"""The published OpenAPI documents (docs/api/) are what the code generates, and valid
OpenAPI 3.x; each tells the truths the services keep (docs/design.md §5)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from watertight.openapi_docs import DOCS, SERVICES, documents, main, render, stale

OPERATIONS = ("get", "post", "put", "patch", "delete")


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in OPERATIONS
    ]


@pytest.fixture(scope="module")
def generated() -> dict[str, dict[str, Any]]:
    return documents()


def test_every_published_document_is_what_the_code_generates() -> None:
    assert stale() == [], "run: python -m watertight.openapi_docs"


def test_a_changed_or_missing_document_is_named_stale(tmp_path: Path) -> None:
    for name in SERVICES:
        (tmp_path / name).write_text((DOCS / name).read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "router.json").write_text("{}\n", encoding="utf-8")
    (tmp_path / "controller.json").unlink()
    assert stale(tmp_path) == ["router.json", "controller.json"]


def test_the_check_command_exits_zero_when_nothing_is_stale() -> None:
    assert main(["--check"]) == 0


@pytest.mark.parametrize("name", list(SERVICES))
def test_each_document_is_valid_openapi_3(generated: dict[str, dict[str, Any]], name: str) -> None:
    document = generated[name]
    assert document["openapi"].startswith("3.")
    validate(document)
    assert render(document) == render(json.loads(render(document)))


@pytest.mark.parametrize("name", list(SERVICES))
def test_every_error_answer_is_documented_as_error_and_detail_strings(
    generated: dict[str, dict[str, Any]], name: str
) -> None:
    document = generated[name]
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    error = schemas["ErrorBody"]
    assert error["required"] == ["error", "detail"]
    assert error["properties"]["detail"]["type"] == "string"
    for method, path, operation in operations(document):
        for status, answer in operation["responses"].items():
            if int(status) >= 400:
                ref = answer["content"]["application/json"]["schema"]["$ref"]
                assert ref == "#/components/schemas/ErrorBody", (method, path, status)


@pytest.mark.parametrize("name", list(SERVICES))
def test_each_guarded_operation_declares_its_roles_bearer_scheme_not_a_header(
    generated: dict[str, dict[str, Any]], name: str
) -> None:
    document = generated[name]
    for method, path, operation in operations(document):
        names = {p["name"].lower() for p in operation.get("parameters", [])}
        assert "authorization" not in names, (method, path)
        guarded = "401" in operation["responses"]
        assert ("security" in operation) == guarded, (method, path)
        if guarded:
            assert operation["security"] == [{role_of(path): []}], (method, path)
    for scheme in document.get("components", {}).get("securitySchemes", {}).values():
        assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")


def role_of(path: str) -> str:
    """The credential each guarded path needs (docs/security.md)."""
    for prefix, role in (
        ("/admin/", "admin"), ("/replication/", "replication"), ("/v1/approvals/", "approver"),
    ):  # fmt: skip
        if path.startswith(prefix):
            return role
    return "operator"


@pytest.mark.parametrize("name", list(SERVICES))
def test_metrics_are_documented_as_prometheus_text(
    generated: dict[str, dict[str, Any]], name: str
) -> None:
    answer = generated[name]["paths"]["/metrics"]["get"]["responses"]["200"]
    assert list(answer["content"]) == ["text/plain"]


def test_writes_require_an_idempotency_key_at_the_unit_service_and_the_router(
    generated: dict[str, dict[str, Any]],
) -> None:
    for name in ("unit-service.json", "router.json"):
        post = generated[name]["paths"]["/v1/customers/{customer_id}/transactions"]["post"]
        keys = [p for p in post["parameters"] if p["name"] == "Idempotency-Key"]
        assert keys and keys[0]["required"] is True and keys[0]["in"] == "header"
        body = post["requestBody"]
        assert body["required"] is True
        schema = body["content"]["application/json"]["schema"]
        if "$ref" in schema:
            schema = generated[name]["components"]["schemas"][schema["$ref"].split("/")[-1]]
        assert set(schema["required"]) == {"type", "amount_minor", "currency"}
        assert schema["additionalProperties"] is False


@pytest.mark.parametrize(
    ("body", "valid"),
    [
        ({"unit": "u00", "to": "same-city"}, True),
        ({"site": "production", "to": "same-city"}, True),
        ({"unit": None, "site": "production", "to": "same-city"}, True),  # what the CLI sends
        ({}, False),
        ({"to": "same-city"}, False),
        ({"unit": "u00"}, False),
        ({"unit": "u00", "site": "production", "to": "same-city"}, False),
        ({"unit": "u00", "to": "same-city", "extra": 1}, False),
    ],
)
def test_the_move_schema_accepts_what_the_controller_accepts(
    generated: dict[str, dict[str, Any]], body: dict[str, Any], valid: bool
) -> None:
    move = generated["controller.json"]["components"]["schemas"]["MoveRequest"]
    assert Draft202012Validator(move).is_valid(body) is valid


def test_int64_bounds_are_exact_integers_not_rounded_floats(
    generated: dict[str, dict[str, Any]],
) -> None:
    text = render(generated["unit-service.json"])
    assert "e+18" not in text
    assert str(2**63 - 1) in text
