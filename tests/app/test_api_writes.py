"""The write endpoint in-process: answers, idempotency, and nothing written on rejection."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient
from unit_app_helpers import AUTH, customer_of, purchase

from app.schemas import TransactionRequest

CUSTOMER = customer_of("u00")
OTHER_UNIT_CUSTOMER = customer_of("u03")


def post(client: TestClient, body: Any, key: str | None = "key-1", customer: str = CUSTOMER):
    headers = {"Idempotency-Key": key} if key is not None else {}
    if isinstance(body, (bytes, str)):
        headers["Content-Type"] = "application/json"
        return client.post(f"/v1/customers/{customer}/transactions", content=body, headers=headers)
    return client.post(f"/v1/customers/{customer}/transactions", json=body, headers=headers)


def digest(client: TestClient) -> dict[str, Any]:
    response = client.get("/replication/digest", headers=AUTH)
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


@contextmanager
def nothing_written(client: TestClient) -> Iterator[None]:
    """Journal lsn, row counts and ledger fingerprint are the same before and after."""
    before = digest(client)
    yield
    assert digest(client) == before


def test_a_purchase_is_posted_with_the_contract_fields(primary: TestClient) -> None:
    response = post(primary, purchase(300, merchant="coffee"))
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {
        "transaction_id",
        "customer_id",
        "unit",
        "site",
        "epoch",
        "lsn",
        "status",
        "available_credit_minor",
    }
    assert (body["unit"], body["site"], body["epoch"], body["lsn"]) == ("u00", "production", 2, 1)
    assert (body["status"], body["available_credit_minor"]) == ("approved", 9_700)


def test_the_same_key_and_body_replays_the_original_answer(primary: TestClient) -> None:
    first = post(primary, purchase(300))
    with nothing_written(primary):
        again = post(primary, purchase(300))
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()


def test_the_same_key_with_another_body_is_a_conflict(primary: TestClient) -> None:
    post(primary, purchase(300))
    with nothing_written(primary):
        response = post(primary, purchase(301))
    assert response.status_code == 409
    assert response.json()["error"] == "idempotency_conflict"


def test_the_same_key_for_another_customer_is_a_conflict(primary: TestClient) -> None:
    post(primary, purchase(300))
    response = post(primary, purchase(300), customer=customer_of("u00", start=10_000))
    assert response.status_code == 409


def test_a_purchase_past_the_limit_is_declined_recorded_and_idempotent(primary: TestClient) -> None:
    response = post(primary, purchase(10_001))
    assert response.status_code == 201
    assert response.json()["status"] == "declined"
    assert response.json()["available_credit_minor"] == 10_000
    assert digest(primary)["transactions"] == 1
    assert post(primary, purchase(10_001)).json() == response.json()


def test_payments_give_back_what_purchases_took(primary: TestClient) -> None:
    post(primary, purchase(4_000), key="k1")
    body = post(primary, {"type": "payment", "amount_minor": 1_500, "currency": "CNY"}, key="k2")
    assert body.json()["available_credit_minor"] == 7_500
    account = primary.get(f"/v1/customers/{CUSTOMER}/account").json()
    assert account["available_credit_minor"] == 7_500
    assert account["credit_limit_minor"] == 10_000
    assert (account["unit"], account["site"]) == ("u00", "production")


def test_a_posted_transaction_reads_back_and_an_unknown_one_is_404(primary: TestClient) -> None:
    created = post(primary, purchase(10)).json()
    found = primary.get(f"/v1/customers/{CUSTOMER}/transactions/{created['transaction_id']}")
    assert found.status_code == 200
    assert found.json()["amount_minor"] == 10
    missing = primary.get(f"/v1/customers/{CUSTOMER}/transactions/nope")
    assert missing.status_code == 404
    assert missing.json()["error"] == "not_found"
    other = customer_of("u00", start=10_000)
    wrong_owner = primary.get(f"/v1/customers/{other}/transactions/{created['transaction_id']}")
    assert wrong_owner.status_code == 404


INVALID_BODIES = {
    "malformed JSON": b'{"type": "purchase", ',
    "not an object": b"[1, 2]",
    "zero amount": purchase(0),
    "negative amount": purchase(-5),
    "huge amount": purchase(10**12 + 1),
    "amount as text": {"type": "purchase", "amount_minor": "100", "currency": "CNY"},
    "fractional amount": {"type": "purchase", "amount_minor": 1.5, "currency": "CNY"},
    "unknown type": {"type": "withdrawal", "amount_minor": 5, "currency": "CNY"},
    "lower-case currency": {"type": "purchase", "amount_minor": 5, "currency": "cny"},
    "other currency": {"type": "purchase", "amount_minor": 5, "currency": "USD"},
    "short currency": {"type": "purchase", "amount_minor": 5, "currency": "CN"},
    "missing currency": {"type": "purchase", "amount_minor": 5},
    "unknown field": purchase(5, note="x"),
    "empty merchant": purchase(5, merchant=""),
}


@pytest.mark.parametrize("body", INVALID_BODIES.values(), ids=INVALID_BODIES.keys())
def test_invalid_bodies_are_422_with_a_reason_and_write_nothing(
    primary: TestClient, body: Any
) -> None:
    with nothing_written(primary):
        response = post(primary, body)
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_request"
    assert response.json()["detail"]


def test_an_integral_amount_spelled_with_a_fraction_is_the_same_amount(
    primary: TestClient,
) -> None:
    # The OpenAPI document says "integer", which JSON Schema takes to include 100.0:
    # the fuzzer sent one and got 422. Same amount, same request (a replay, not a conflict).
    first = post(primary, {"type": "purchase", "amount_minor": 100.0, "currency": "CNY"}, key="k1")
    assert first.status_code == 201, first.text
    again = post(primary, purchase(100), key="k1")
    assert again.status_code == 200, again.text
    assert again.json() == first.json()


@pytest.mark.parametrize("key", [None, "", "k" * 129, "bad key", "bad/key"])
def test_missing_or_invalid_idempotency_keys_are_422_and_write_nothing(
    primary: TestClient, key: str | None
) -> None:
    with nothing_written(primary):
        response = post(primary, purchase(5), key=key)
    assert response.status_code == 422
    assert "Idempotency-Key" in response.json()["detail"]


@pytest.mark.parametrize("customer", ["has space", "x" * 65, "semi;colon"])
def test_a_malformed_customer_id_is_422_and_writes_nothing(
    primary: TestClient, customer: str
) -> None:
    with nothing_written(primary):
        response = post(primary, purchase(5), customer=customer)
    assert response.status_code == 422


def test_another_units_customer_is_421_naming_the_right_unit(primary: TestClient) -> None:
    with nothing_written(primary):
        response = post(primary, purchase(5), customer=OTHER_UNIT_CUSTOMER)
    assert response.status_code == 421
    assert response.json() == {
        "error": "wrong_unit",
        "detail": f"customer {OTHER_UNIT_CUSTOMER} belongs to unit u03, this is u00",
        "unit": "u03",
    }
    reads = primary.get(f"/v1/customers/{OTHER_UNIT_CUSTOMER}/account")
    assert reads.status_code == 421


def test_a_standby_refuses_writes_with_503_and_retry_after(standby: TestClient) -> None:
    with nothing_written(standby):
        response = post(standby, purchase(5))
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert response.json()["error"] == "not_writable"
    assert "standby at epoch 1" in response.json()["detail"]
    assert "production" not in response.json()["detail"]  # it knows no other primary


def test_unknown_paths_use_the_error_shape(primary: TestClient) -> None:
    response = primary.get("/nope")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_a_write_cancelled_while_queued_is_not_written_and_the_group_commit_goes_on(
    primary: TestClient,
) -> None:
    """A write whose request task was cancelled before its group was committed (its
    client went away, the server is stopping) is dropped unwritten, and the writes
    queued with it are committed: setting a cancelled write's outcome would raise."""
    writes = primary.app.state.service.writes  # type: ignore[attr-defined]
    customer = customer_of("u00")

    async def cancel_one_of_two() -> list[int]:
        gone = asyncio.ensure_future(
            writes.post(customer, "gone", TransactionRequest(**purchase(100)))
        )
        kept = asyncio.ensure_future(
            writes.post(customer, "kept", TransactionRequest(**purchase(100)))
        )
        await asyncio.sleep(0)  # both queued, one drain scheduled, not yet run
        gone.cancel()
        status, _ = await kept
        return [status]

    assert primary.portal.call(cancel_one_of_two) == [201]  # type: ignore[union-attr]
    reused = primary.post(
        f"/v1/customers/{customer}/transactions",
        json=purchase(200),
        headers={"Idempotency-Key": "gone"},
    )
    assert reused.status_code == 201, "the cancelled write's key was used: it was written"


def test_a_group_commit_that_breaks_fails_its_writes_and_the_next_group_commits(
    primary: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On the event loop, an unexpected error in a group commit must still answer the
    group's requests (500, nothing acknowledged) instead of leaving them waiting."""
    writes = primary.app.state.service.writes  # type: ignore[attr-defined]
    customer = customer_of("u00")
    commit = writes._commit

    def broken(batch: list[Any]) -> None:
        monkeypatch.setattr(writes, "_commit", commit)  # only this group breaks
        raise RuntimeError("a bug")

    monkeypatch.setattr(writes, "_commit", broken)
    failed = primary.post(
        f"/v1/customers/{customer}/transactions", json=purchase(100),
        headers={"Idempotency-Key": "broken"},
    )  # fmt: skip
    assert failed.status_code == 500
    assert "RuntimeError" in failed.json()["detail"]
    after = primary.post(
        f"/v1/customers/{customer}/transactions", json=purchase(100),
        headers={"Idempotency-Key": "after-the-bug"},
    )  # fmt: skip
    assert after.status_code == 201, after.text
