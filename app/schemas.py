"""The public ledger API's bodies and the unit service's request bounds: one definition,
in :mod:`failover.ledger_api` (shared with the router, which forwards these bodies)."""

from __future__ import annotations

from failover.ledger_api import (
    INT64_MAX,
    INT64_MIN,
    MAX_AMOUNT_MINOR,
    NAME_MAX,
    TRANSACTION_ID_PATTERN,
    AccountView,
    Int64,
    Name,
    NonNegativeInt64,
    TransactionRequest,
    TransactionResult,
    TransactionStatus,
    TransactionType,
    TransactionView,
    integral,
)

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "MAX_AMOUNT_MINOR",
    "NAME_MAX",
    "TRANSACTION_ID_PATTERN",
    "AccountView",
    "Int64",
    "Name",
    "NonNegativeInt64",
    "TransactionRequest",
    "TransactionResult",
    "TransactionStatus",
    "TransactionType",
    "TransactionView",
    "integral",
]
