"""Request and response bodies of the public ledger API (docs/design.md §5, router contract),
and the bounds every request model of the unit service shares.

The unit service serves this contract (``app.schemas`` re-exports it) and the router
forwards it; it lives in ``failover`` so the router's OpenAPI document can state the body
it forwards from the same definition (pydantic only: the unit service may import it).

Bounds follow what storage holds: every integer column is a signed 64-bit ``BIGINT``, so
an integer a request carries beyond it is a 422, never an overflow in the database
(docs/unit-service.md, "Limits and bad input").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from failover.topology import CUSTOMER_ID_PATTERN

TransactionType = Literal["purchase", "payment", "refund"]
TransactionStatus = Literal["approved", "declined"]
MAX_AMOUNT_MINOR = 10**12


def integral(value: object) -> object:
    """``100.0`` as ``100``: JSON Schema's ``integer`` (what the OpenAPI document says) is
    any number without a fraction, so a strict model must take it too. Anything else is
    left for the strict check to refuse (``1.5``, ``"100"``, ``true``)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# Request integers are JSON integers: strict (``"5"``, ``true`` and ``1.5`` are 422, as
# the documents' ``"type": "integer"`` says) but ``5.0`` is 5 (:func:`integral`). The
# bounds sit inside the validator so the published schema keeps them as minimum/maximum.
INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)
Int64 = Annotated[int, Field(strict=True, ge=INT64_MIN, le=INT64_MAX), BeforeValidator(integral)]
"""Any integer a ``BIGINT`` column holds (amounts, credit, deltas)."""
NonNegativeInt64 = Annotated[int, Field(strict=True, ge=0, le=INT64_MAX), BeforeValidator(integral)]
"""Epochs, lsns, counts."""
NAME_MAX = 64
"""Sites, units, customer and transaction ids: ``String(64)`` columns."""
Name = Annotated[str, Field(min_length=1, max_length=NAME_MAX)]
TRANSACTION_ID_PATTERN = r"^[A-Za-z0-9._:-]{1,64}$"
"""What a transaction id in a path may be: the customer-id charset and length. Ids this
service issues are 32 lowercase hex digits; anything else in the charset is a 404."""


class TransactionRequest(BaseModel):
    """A write. Strict: ``"5"`` is not an amount and ``"cny"`` is not a currency; an
    integral number is an integer whichever way JSON spells it (``100`` or ``100.0``)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    type: TransactionType
    amount_minor: Annotated[
        int, Field(strict=True, ge=1, le=MAX_AMOUNT_MINOR), BeforeValidator(integral)
    ]
    currency: Literal["CNY"]
    merchant: Annotated[str, Field(min_length=1, max_length=128)] | None = None


class TransactionResult(BaseModel):
    """What a write answers (201 first time, 200 on a replay of the same key and body)."""

    model_config = ConfigDict(frozen=True)

    transaction_id: Name
    customer_id: Name
    unit: Name
    site: Name
    epoch: NonNegativeInt64
    lsn: NonNegativeInt64
    status: TransactionStatus
    available_credit_minor: Int64


class TransactionView(BaseModel):
    """``GET .../transactions/{transaction_id}``."""

    transaction_id: str
    customer_id: str
    type: TransactionType
    amount_minor: int
    currency: str
    merchant: str | None
    status: TransactionStatus
    epoch: int
    lsn: int
    unit: str
    site: str


class AccountView(BaseModel):
    """``GET .../account``; a customer never seen shows the limit an account would open with."""

    customer_id: str
    credit_limit_minor: int
    available_credit_minor: int
    currency: Literal["CNY"] = "CNY"
    opened: bool
    unit: str
    site: str


IDEMPOTENCY_KEY_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

# The OpenAPI parameters of the ledger paths. The handlers (unit service and router)
# read these themselves, so a missing or malformed one gets its own sentence and code;
# the documents still say what they must be.
CUSTOMER_ID_PARAMETER: dict[str, Any] = {
    "name": "customer_id",
    "in": "path",
    "required": True,
    "description": "Decides the unit (docs/design.md §2); anything else is 422.",
    "schema": {"type": "string", "pattern": CUSTOMER_ID_PATTERN.pattern},
}
IDEMPOTENCY_KEY_PARAMETER: dict[str, Any] = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": True,
    "description": "One key per intended write; a retry with the same key and body "
    "replays the first answer (200), with another body it is 409.",
    "schema": {"type": "string", "pattern": IDEMPOTENCY_KEY_PATTERN.pattern},
}


WRITE_PATH = re.compile(r"/v1/customers/([^/]+)/transactions")
"""The path of a write, ``/v1/customers/{customer_id}/transactions``, as ASGI decodes it."""


def write_customer(scope: Mapping[str, Any]) -> str | None:
    """The customer id of an ASGI request that is a write (``POST`` on
    :data:`WRITE_PATH`), or None for any other request. A lane serving writes ahead of an
    application's routing matches with this, as FastAPI's routing would."""
    if scope["type"] != "http" or scope["method"] != "POST":
        return None
    matched = WRITE_PATH.fullmatch(scope["path"])
    return None if matched is None else matched.group(1)
