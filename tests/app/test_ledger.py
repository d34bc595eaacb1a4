"""Pure ledger rules: credit taken and given back, declines, request fingerprints, keys."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.errors import InvalidRequestError
from app.ledger import decide, request_hash, validate_idempotency_key
from app.schemas import TransactionRequest


def test_a_purchase_within_the_limit_takes_available_credit() -> None:
    posting = decide("purchase", 300, 1_000)
    assert (posting.status, posting.delta_minor, posting.available_after_minor) == (
        "approved",
        -300,
        700,
    )


def test_a_purchase_of_exactly_the_available_credit_is_approved() -> None:
    assert decide("purchase", 1_000, 1_000).available_after_minor == 0


def test_a_purchase_past_the_available_credit_is_declined_and_changes_nothing() -> None:
    posting = decide("purchase", 1_001, 1_000)
    assert (posting.status, posting.delta_minor, posting.available_after_minor) == (
        "declined",
        0,
        1_000,
    )


@pytest.mark.parametrize("kind", ["payment", "refund"])
def test_payments_and_refunds_give_credit_back(kind: str) -> None:
    posting = decide(kind, 250, 100)  # type: ignore[arg-type]
    assert (posting.status, posting.available_after_minor) == ("approved", 350)


@given(
    available=st.integers(min_value=0, max_value=10**13),
    amount=st.integers(min_value=1, max_value=10**12),
)
def test_available_credit_never_goes_negative_through_a_purchase(
    available: int, amount: int
) -> None:
    posting = decide("purchase", amount, available)
    assert posting.available_after_minor >= 0
    assert posting.available_after_minor == available + posting.delta_minor


def test_the_request_hash_ignores_field_order_but_not_the_customer() -> None:
    a = TransactionRequest.model_validate_json(
        '{"type":"purchase","amount_minor":5,"currency":"CNY"}'
    )
    b = TransactionRequest.model_validate_json(
        '{"currency":"CNY","amount_minor":5,"type":"purchase"}'
    )
    assert request_hash("c1", a) == request_hash("c1", b)
    assert request_hash("c1", a) != request_hash("c2", a)


def test_the_request_hash_changes_with_the_merchant() -> None:
    a = TransactionRequest(type="purchase", amount_minor=5, currency="CNY")
    b = TransactionRequest(type="purchase", amount_minor=5, currency="CNY", merchant="m")
    assert request_hash("c1", a) != request_hash("c1", b)


@pytest.mark.parametrize("key", ["a", "A-z_0.9:x", "k" * 128])
def test_valid_idempotency_keys_are_accepted(key: str) -> None:
    assert validate_idempotency_key(key) == key


@pytest.mark.parametrize("key", [None, "", "k" * 129, "has space", "slash/key", "ключ"])
def test_missing_or_malformed_idempotency_keys_are_refused(key: str | None) -> None:
    with pytest.raises(InvalidRequestError):
        validate_idempotency_key(key)
