"""The gray-failure drill's fault inside a unit instance: writes go wrong (declined or
slow) while every probe stays green; token required; bad input is 422."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from unit_app_helpers import AUTH, customer_of, promote_alone, purchase, settings_for, unit_client

CUSTOMER = customer_of("u00")


@pytest.fixture
def primary(tmp_path: Path) -> Iterator[TestClient]:
    with unit_client(settings_for(tmp_path)) as client:
        promote_alone(client)
        yield client


def write(client: TestClient, key: str, body: dict[str, object] | None = None) -> dict[str, object]:
    response = client.post(
        f"/v1/customers/{CUSTOMER}/transactions",
        json=body or purchase(100),
        headers={"Idempotency-Key": key},
    )
    assert response.status_code == 201, response.text
    result: dict[str, object] = response.json()
    return result


def probes_green(client: TestClient) -> None:
    assert client.get("/healthz").status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["role"] == "primary", ready.text
    assert client.get("/v1/unit").status_code == 200


def test_decline_all_declines_every_write_while_the_probes_stay_green(primary: TestClient) -> None:
    assert write(primary, "before")["status"] == "approved"
    answer = primary.post("/admin/gray-fault", json={"mode": "decline-all"}, headers=AUTH)
    assert answer.status_code == 200, answer.text
    assert answer.json()["mode"] == "decline-all" and answer.json()["since"] is not None
    assert write(primary, "p1")["status"] == "declined"
    payment = {"type": "payment", "amount_minor": 5, "currency": "CNY"}
    assert write(primary, "p2", payment)["status"] == "declined"
    probes_green(primary)
    traffic = primary.get("/v1/unit").json()["traffic"]["writes"]
    assert traffic["purchase/declined"] == 1 and traffic["payment/declined"] == 1
    cleared = primary.post("/admin/gray-fault", json={"mode": "none"}, headers=AUTH)
    assert cleared.json() == {"mode": "none", "delay_ms": None, "since": None}
    assert write(primary, "after")["status"] == "approved"


def test_a_declined_write_is_recorded_and_replays_as_declined(primary: TestClient) -> None:
    primary.post("/admin/gray-fault", json={"mode": "decline-all"}, headers=AUTH)
    first = write(primary, "once")
    primary.post("/admin/gray-fault", json={"mode": "none"}, headers=AUTH)
    replay = primary.post(
        f"/v1/customers/{CUSTOMER}/transactions",
        json=purchase(100),
        headers={"Idempotency-Key": "once"},
    )
    assert replay.status_code == 200 and replay.json() == first
    view = primary.get(f"/v1/customers/{CUSTOMER}/transactions/{first['transaction_id']}")
    assert view.status_code == 200 and view.json()["status"] == "declined"


def test_slow_delays_every_write_by_its_delay_while_the_probes_stay_fast(
    primary: TestClient,
) -> None:
    slept: list[float] = []

    async def record(seconds: float) -> None:  # the delay asked for, without spending it
        slept.append(seconds)

    gray = primary.app.state.service.gray  # type: ignore[attr-defined]
    gray._sleep = record
    answer = primary.post("/admin/gray-fault", json={"mode": "slow", "delay_ms": 300}, headers=AUTH)
    assert answer.json()["delay_ms"] == 300
    assert write(primary, "slow")["status"] == "approved"
    assert slept == [0.3]
    probes_green(primary)
    assert slept == [0.3], "a probe waited for the gray delay"
    assert primary.get("/admin/gray-fault", headers=AUTH).json()["mode"] == "slow"


def test_slow_without_a_delay_means_500_ms(primary: TestClient) -> None:
    answer = primary.post("/admin/gray-fault", json={"mode": "slow"}, headers=AUTH)
    assert answer.json()["delay_ms"] == 500


@pytest.mark.parametrize(("method", "body"), [("post", {"mode": "decline-all"}), ("get", None)])
def test_the_gray_fault_needs_the_token(primary: TestClient, method: str, body: object) -> None:
    assert primary.request(method, "/admin/gray-fault", json=body).status_code == 401
    wrong = {"Authorization": "Bearer nope"}
    assert primary.request(method, "/admin/gray-fault", json=body, headers=wrong).status_code == 403
    assert write(primary, "unharmed")["status"] == "approved"


@pytest.mark.parametrize(
    "body",
    [
        {"mode": "broken"},
        {"mode": "slow", "delay_ms": 0},
        {"mode": "slow", "delay_ms": 10_001},
        {"mode": "slow", "delay_ms": "500"},
        {"mode": "decline-all", "delay_ms": 500},
        {"mode": "none", "extra": 1},
        {},
    ],
)
def test_bad_gray_fault_input_is_422_in_the_one_error_shape_and_changes_nothing(
    primary: TestClient, body: dict[str, object]
) -> None:
    answer = primary.post("/admin/gray-fault", json=body, headers=AUTH)
    assert answer.status_code == 422, answer.text
    assert set(answer.json()) == {"error", "detail"} and answer.json()["error"] == "invalid_request"
    assert primary.get("/admin/gray-fault", headers=AUTH).json()["mode"] == "none"
