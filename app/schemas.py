"""Request and response bodies of the public ledger API (docs/design.md §5, router contract)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

TransactionType = Literal["purchase", "payment", "refund"]
TransactionStatus = Literal["approved", "declined"]
MAX_AMOUNT_MINOR = 10**12


class TransactionRequest(BaseModel):
    """A write. Strict: ``"5"`` is not an amount and ``"cny"`` is not a currency."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    type: TransactionType
    amount_minor: Annotated[int, Field(ge=1, le=MAX_AMOUNT_MINOR)]
    currency: Literal["CNY"]
    merchant: Annotated[str, Field(min_length=1, max_length=128)] | None = None


class TransactionResult(BaseModel):
    """What a write answers (201 first time, 200 on a replay of the same key and body)."""

    model_config = ConfigDict(frozen=True)

    transaction_id: str
    customer_id: str
    unit: str
    site: str
    epoch: int
    lsn: int
    status: TransactionStatus
    available_credit_minor: int


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
