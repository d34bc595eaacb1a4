"""The controller API's bounds and error shape: every query parameter and field bounded
(just inside answers, just outside is 422), bodies limited (413), the framework's own
errors and anything unexpected in ``{"error", "detail"}``, and nothing changed by any of it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from harness import ALICE, OPERATOR, World, auth_for

from failover.body_limit import API_BODY_LIMIT
from failover.controller.api import create_app

AUTH = OPERATOR
JSON_AUTH = {**AUTH, "Content-Type": "application/json"}
INT64_MAX = 2**63 - 1


@pytest.fixture
def client(world: World) -> TestClient:
    world.cycle()
    return TestClient(create_app(world.runtime), raise_server_exceptions=False)


def assert_shape(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) >= {"error", "detail"}
    assert body["error"] == code
    return str(body["detail"])


@pytest.mark.parametrize(
    "query",
    [f"since={INT64_MAX}", "since=0", "limit=1", "limit=10000", f"kind={'k' * 64}"],
)
def test_event_queries_just_inside_their_bounds_are_answered(
    client: TestClient, query: str
) -> None:
    assert client.get(f"/v1/events?{query}").status_code == 200


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=9223372036854775808", "limit"),
        ("since=9223372036854775808", "since"),
        ("since=-1", "since"),
        ("limit=0", "limit"),
        ("limit=10001", "limit"),
        (f"kind={'k' * 65}", "kind"),
        ("since=ten", "since"),
    ],
)
def test_event_queries_outside_their_bounds_are_422_naming_the_parameter(
    client: TestClient, query: str, field: str
) -> None:
    detail = assert_shape(client.get(f"/v1/events?{query}"), 422, "invalid_request")
    assert f"query.{field}" in detail


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/approvals/a-1", {"accept_loss": INT64_MAX + 1}, "accept_loss"),
        # The document says "integer": a boolean or a numeric string is not one.
        ("/v1/approvals/a-1", {"accept_loss": True}, "accept_loss"),
        ("/v1/approvals/a-1", {"accept_loss": "5"}, "accept_loss"),
        ("/v1/approvals/a-1", {"by": "x" * 65}, "by"),
        ("/v1/switchover", {"unit": "u" * 65, "to": "same-city"}, "unit"),
        ("/v1/failover", {"site": "production", "to": ""}, "to"),
        ("/v1/failback", {"site": "s" * 65}, "site"),
        ("/v1/freeze", {"reason": "r" * 1001}, "reason"),
    ],
)
def test_a_field_outside_its_bound_is_422_naming_it_and_changes_nothing(
    client: TestClient, world: World, path: str, body: dict[str, object], field: str
) -> None:
    before = [world.route(u) for u in world.topology.units]
    detail = assert_shape(
        client.post(path, json=body, headers=auth_for(path)), 422, "invalid_request"
    )
    assert f"body.{field}" in detail
    assert [world.route(u) for u in world.topology.units] == before
    assert world.runtime.state.frozen() is None


def test_the_largest_loss_a_person_may_accept_is_read_as_a_number(client: TestClient) -> None:
    answer = client.post("/v1/approvals/a-1", json={"accept_loss": INT64_MAX}, headers=ALICE)
    assert "unknown approval" in assert_shape(answer, 404, "invalid_request")


@pytest.mark.parametrize("approval", ["a%0A", "x" * 65, "a%20b"])
def test_a_malformed_approval_id_is_422(client: TestClient, approval: str) -> None:
    answer = client.post(f"/v1/approvals/{approval}", json={}, headers=ALICE)
    assert "approval_id" in assert_shape(answer, 422, "invalid_request")


def test_an_unknown_path_is_404_in_the_shape(client: TestClient) -> None:
    assert "GET /v2/status" in assert_shape(client.get("/v2/status"), 404, "not_found")


def test_a_wrong_method_is_405_in_the_shape(client: TestClient) -> None:
    assert "GET" in assert_shape(client.get("/v1/freeze"), 405, "method_not_allowed")


def padded(size: int) -> bytes:
    body = b'{"reason":"drill"}'
    return body + b" " * (size - len(body))


def chunks(body: bytes) -> Iterator[bytes]:
    for start in range(0, len(body), 4096):
        yield body[start : start + 4096]


def test_a_body_of_exactly_the_limit_is_taken(client: TestClient, world: World) -> None:
    answer = client.post("/v1/freeze", content=padded(API_BODY_LIMIT), headers=JSON_AUTH)
    assert answer.status_code == 200, answer.text
    assert world.runtime.state.frozen() is not None


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_body_over_the_limit_is_413_naming_it_and_changes_nothing(
    client: TestClient, world: World, chunked: bool
) -> None:
    body = padded(API_BODY_LIMIT + 1)
    answer = client.post("/v1/freeze", content=chunks(body) if chunked else body, headers=JSON_AUTH)
    assert ("content-length" in answer.request.headers) is not chunked
    detail = assert_shape(answer, 413, "body_too_large")
    assert f"limit of {API_BODY_LIMIT} bytes" in detail
    assert world.runtime.state.frozen() is None


def test_an_oversized_body_without_a_token_is_refused_unread(client: TestClient) -> None:
    headers = {"Content-Length": str(20 * 1024 * 1024), "Content-Type": "application/json"}
    assert_shape(client.post("/v1/freeze", content=b"{}", headers=headers), 413, "body_too_large")


def test_a_body_that_is_not_utf8_is_422_saying_so(client: TestClient, world: World) -> None:
    answer = client.post("/v1/freeze", content=b'{"reason": "\xff"}', headers=JSON_AUTH)
    assert "not UTF-8" in assert_shape(answer, 422, "invalid_request")
    assert world.runtime.state.frozen() is None


def test_an_unexpected_failure_is_500_in_the_shape(
    client: TestClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> dict[str, object]:
        raise RuntimeError("status on fire")

    monkeypatch.setattr(world.runtime, "status", broken)
    assert "controller log" in assert_shape(client.get("/v1/status"), 500, "internal")
