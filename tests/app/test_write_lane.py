"""A primary's write lane: a write the route would take as it is runs the route's own
write without FastAPI; anything else reaches the full application with its body intact,
so its refusals stay the documented ones."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from lane_helpers import FullApplication, post
from unit_app_helpers import customer_of, promote_alone, purchase, settings_for, unit_client

from app.service import UnitService
from app.write_lane import WriteLane

OURS, THEIRS = customer_of("u00"), customer_of("u01")
JSON = (b"content-type", b"application/json")


def call(
    lane: WriteLane, customer: str, body: bytes, headers: list[tuple[bytes, bytes]]
) -> tuple[int, Any]:
    return post(lane, f"/v1/customers/{customer}/transactions", body, headers)


WRITE = json.dumps(purchase(100)).encode()


def test_a_well_formed_write_is_posted_without_the_full_application(
    primary_service: UnitService,
) -> None:
    full = FullApplication()
    lane = WriteLane(full, service=primary_service)
    status, body = call(lane, OURS, WRITE, [JSON, (b"idempotency-key", b"k-1")])
    assert (status, body["lsn"], body["customer_id"]) == (201, 1, OURS)
    assert call(lane, OURS, WRITE, [JSON, (b"idempotency-key", b"k-1")])[0] == 200  # replay
    assert full.bodies == []


def test_a_write_the_unit_refuses_is_answered_as_the_error_handlers_answer(
    primary_service: UnitService,
) -> None:
    full = FullApplication()
    lane = WriteLane(full, service=primary_service)
    call(lane, OURS, WRITE, [JSON, (b"idempotency-key", b"k-1")])
    other = json.dumps(purchase(200)).encode()
    status, body = call(lane, OURS, other, [JSON, (b"idempotency-key", b"k-1")])
    assert (status, body["error"]) == (409, "idempotency_conflict")
    assert full.bodies == []


@pytest.mark.parametrize(
    ("customer", "body", "headers"),
    [
        (OURS, WRITE, [JSON]),
        (OURS, WRITE, [JSON, (b"idempotency-key", b"a key with spaces")]),
        (OURS, WRITE, [(b"content-type", b"text/plain"), (b"idempotency-key", b"k")]),
        (
            OURS,
            b'{"type": "purchase", "amount_minor": "5", "currency": "CNY"}',
            [JSON, (b"idempotency-key", b"k")],
        ),
        (OURS, b"[" * 20_000, [JSON, (b"idempotency-key", b"k")]),
        (THEIRS, WRITE, [JSON, (b"idempotency-key", b"k")]),
        ("bad id!", WRITE, [JSON, (b"idempotency-key", b"k")]),
    ],
    ids=["no-key", "bad-key", "not-json", "invalid", "too-deep", "other-unit", "bad-customer"],
)
def test_anything_else_reaches_the_full_application_with_its_body(
    primary_service: UnitService, customer: str, body: bytes, headers: list[tuple[bytes, bytes]]
) -> None:
    full = FullApplication()
    assert call(WriteLane(full, service=primary_service), customer, body, headers)[0] == 599
    assert full.bodies == [body]
    assert primary_service.queries.journal_position() == (0, 0)


def test_writes_served_by_the_lane_are_counted_under_their_route(tmp_path: Path) -> None:
    with unit_client(settings_for(tmp_path)) as unit:
        promote_alone(unit)
        url = f"/v1/customers/{OURS}/transactions"
        response = unit.post(url, json=purchase(), headers={"Idempotency-Key": "k-1"})
        assert response.status_code == 201
        metrics = unit.get("/metrics").text
    assert 'route="/v1/customers/{customer_id}/transactions",status="201"' in metrics
