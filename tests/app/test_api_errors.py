"""Every error of the unit service is ``{"error", "detail"}``, the framework's own too, and
bad input is a 4xx that writes nothing, never a 500."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from unit_app_helpers import AUTH, customer_of

from app import node

CUSTOMER = customer_of("u00")
WRITE = f"/v1/customers/{CUSTOMER}/transactions"
JSON = {"Content-Type": "application/json", "Idempotency-Key": "k-1"}


def assert_shape(response: Any, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) >= {"error", "detail"}
    assert (body["error"], isinstance(body["detail"], str)) == (code, True)
    return str(body["detail"])


def test_an_unknown_path_is_404_naming_it(primary: TestClient) -> None:
    detail = assert_shape(primary.get("/v2/nothing"), 404, "not_found")
    assert "GET /v2/nothing" in detail


def test_a_wrong_method_is_405_naming_it(primary: TestClient) -> None:
    detail = assert_shape(primary.delete("/v1/unit"), 405, "method_not_allowed")
    assert "DELETE" in detail


def test_a_body_over_the_limit_is_413_in_the_shape(primary: TestClient) -> None:
    response = primary.post(WRITE, content=b" " * (1024 * 1024), headers=JSON)
    assert "limit of 65536 bytes" in assert_shape(response, 413, "body_too_large")


UNPARSABLE = {
    "not UTF-8": (b'{"type": "purchase\xff"}', "not UTF-8"),
    "a number of 5000 digits": (b'{"amount_minor": 1' + b"0" * 5000 + b"}", "digits"),
    "nested 20000 deep": (b"[" * 20_000 + b"]" * 20_000, "nested too deeply"),
}


@pytest.mark.parametrize(("body", "words"), UNPARSABLE.values(), ids=UNPARSABLE.keys())
def test_a_body_that_cannot_even_be_parsed_is_422_saying_why(
    primary: TestClient, body: bytes, words: str
) -> None:
    detail = assert_shape(primary.post(WRITE, content=body, headers=JSON), 422, "invalid_request")
    assert words in detail
    assert primary.get("/v1/unit").json()["last_lsn"] == 0


@pytest.mark.parametrize("tid", ["%F2%9C%9C%85%0A", "has space", "x" * 65, "semi;colon"])
def test_a_malformed_transaction_id_is_422(primary: TestClient, tid: str) -> None:
    response = primary.get(f"{WRITE}/{tid}")
    assert "transaction_id" in assert_shape(response, 422, "invalid_request")


def test_a_well_formed_unknown_transaction_id_is_404(primary: TestClient) -> None:
    assert_shape(primary.get(f"{WRITE}/{'f' * 64}"), 404, "not_found")


def test_an_unexpected_failure_is_500_in_the_shape_and_changes_nothing(
    standby: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(node, "_persist", broken)
    response = standby.post("/admin/role", json={"role": "fenced", "epoch": 1}, headers=AUTH)
    detail = assert_shape(response, 500, "internal")
    assert "disk on fire" not in detail  # internals stay in the log
    assert standby.get("/v1/unit").json()["role"] == "standby"
