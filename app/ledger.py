"""Pure ledger rules: what a write does to an account, and how requests are fingerprinted.

No I/O here. A purchase takes available credit and is declined (recorded, not an error)
when it exceeds it; a payment or refund gives credit back. Amounts are integers in minor
units (fen), never floats.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from app.errors import InvalidRequestError
from app.schemas import TransactionRequest, TransactionStatus, TransactionType
from failover.ledger_api import IDEMPOTENCY_KEY_PATTERN


@dataclass(frozen=True, slots=True)
class Posting:
    """The outcome of one write on one account."""

    status: TransactionStatus
    delta_minor: int
    available_after_minor: int


def decide(kind: TransactionType, amount_minor: int, available_minor: int) -> Posting:
    """Apply the card rules to an account with ``available_minor`` of credit left."""
    if kind == "purchase":
        if amount_minor > available_minor:
            return Posting("declined", 0, available_minor)
        return Posting("approved", -amount_minor, available_minor - amount_minor)
    return Posting("approved", amount_minor, available_minor + amount_minor)


def canonical_json(value: Any) -> str:
    """One spelling per value: sorted keys, no spaces. Used for hashes and stored bodies."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def request_hash(customer_id: str, request: TransactionRequest) -> str:
    """Fingerprint of a write: same customer and same body give the same hash."""
    document = {"customer_id": customer_id, **request.model_dump()}
    return hashlib.sha256(canonical_json(document).encode("utf-8")).hexdigest()


def validate_idempotency_key(value: str | None) -> str:
    """Return the key, or raise :class:`InvalidRequestError` saying what is wrong with it."""
    if value is None:
        raise InvalidRequestError("the Idempotency-Key header is required on every write")
    if not IDEMPOTENCY_KEY_PATTERN.fullmatch(value):
        raise InvalidRequestError("Idempotency-Key must be 1-128 characters of [A-Za-z0-9._:-]")
    return value
