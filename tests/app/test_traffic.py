"""The unit's business traffic in ``/v1/unit``: what is counted, what is not."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from unit_app_helpers import customer_of, purchase

from app.traffic import LATENCY_BOUNDS_MS, TrafficCounters

CUSTOMER = customer_of("u00")


def post(client: TestClient, body: Any, key: str) -> int:
    url = f"/v1/customers/{CUSTOMER}/transactions"
    return client.post(url, json=body, headers={"Idempotency-Key": key}).status_code


def traffic(client: TestClient) -> dict[str, Any]:
    body: dict[str, Any] = client.get("/v1/unit").json()["traffic"]
    return body


def test_approved_and_declined_writes_are_counted_by_type_and_timed(primary: TestClient) -> None:
    before = traffic(primary)
    assert post(primary, purchase(300), "a") == 201
    assert post(primary, purchase(10**9), "b") == 201  # over the credit limit: declined
    assert post(primary, {"type": "payment", "amount_minor": 5, "currency": "CNY"}, "c") == 201
    after = traffic(primary)
    assert after["boot"] == before["boot"]
    assert after["at"] >= before["at"]
    writes = after["writes"]
    assert (writes["purchase/approved"], writes["purchase/declined"]) == (1, 1)
    assert (writes["payment/approved"], writes["refund/approved"]) == (1, 0)
    assert sum(after["latency_counts"]) == 3
    assert after["latency_bounds_ms"] == list(LATENCY_BOUNDS_MS)


def test_replays_and_a_clients_mistakes_are_not_business_traffic(primary: TestClient) -> None:
    assert post(primary, purchase(300), "a") == 201
    assert post(primary, purchase(300), "a") == 200
    assert post(primary, purchase(301), "a") == 409
    assert post(primary, {"type": "purchase", "amount_minor": 0, "currency": "CNY"}, "d") == 422
    writes = traffic(primary)["writes"]
    assert sum(writes.values()) == 1


def test_a_write_the_instance_cannot_take_counts_as_failed(standby: TestClient) -> None:
    assert post(standby, purchase(300), "a") == 503
    assert traffic(standby)["writes"]["purchase/failed"] == 1


def test_counters_are_cumulative_and_bucket_latency_by_upper_bound() -> None:
    now = [10.0]
    counters = TrafficCounters(clock=lambda: now[0])
    counters.record("purchase", "approved", 0.0015)  # 1.5 ms: the bucket up to 1.68 ms
    counters.record("refund", "failed", 60.0)  # beyond every bound: the last bucket
    counters.record("purchase", "lost", 0.001)  # not an outcome: ignored
    view = counters.view()
    assert view["at"] == 10.0
    assert view["latency_counts"][LATENCY_BOUNDS_MS.index(1.68)] == 1
    assert view["latency_counts"][-1] == 1
    assert sum(view["writes"].values()) == 2
