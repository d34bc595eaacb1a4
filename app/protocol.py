"""The replication wire format and the pure rule that finds where two journals diverge.

Entries travel as :class:`WireEntry`. Before shipping entries at an epoch, a primary
sends a :class:`HandshakeRequest` with the epoch ranges of its journal; the receiver
compares them with its own (:func:`first_divergent_lsn`), discards what the primary does
not have, and answers with the lsn it has applied. Only one primary ever writes at a
given epoch, so two entries with the same ``(lsn, epoch)`` are the same entry.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from app.schemas import (
    INT64_MAX,
    Int64,
    Name,
    NonNegativeInt64,
    TransactionResult,
    TransactionStatus,
    TransactionType,
    integral,
)

MAX_BATCH = 10_000
NonNegative = NonNegativeInt64
Lsn = Annotated[int, Field(strict=True, ge=1, le=INT64_MAX), BeforeValidator(integral)]


class Effect(BaseModel):
    """What a journal entry does to the ledger; applying it needs nothing else."""

    model_config = ConfigDict(frozen=True)

    customer_id: Name
    transaction_id: Name
    type: TransactionType
    amount_minor: Int64
    currency: Annotated[str, Field(max_length=3)]
    merchant: Annotated[str, Field(max_length=128)] | None
    status: TransactionStatus
    delta_minor: Int64
    credit_limit_minor: Int64
    available_after_minor: Int64


class WireEntry(BaseModel):
    """One journal entry: the key and request hash travel with it (docs/design.md §3.3)."""

    model_config = ConfigDict(frozen=True)

    lsn: Lsn
    epoch: NonNegative
    idempotency_key: Annotated[str, Field(max_length=128)]
    request_hash: Annotated[str, Field(max_length=64)]
    payload: Effect
    response: TransactionResult


class EpochRange(BaseModel):
    """Journal entries ``first_lsn..last_lsn`` (inclusive) were written at ``epoch``."""

    model_config = ConfigDict(frozen=True)

    epoch: NonNegative
    first_lsn: Lsn
    last_lsn: Lsn


class HandshakeRequest(BaseModel):
    epoch: NonNegative
    primary_site: Name
    last_lsn: NonNegative
    epoch_ranges: list[EpochRange]


class HandshakeResult(BaseModel):
    applied_lsn: NonNegative
    epoch: NonNegative
    discarded: NonNegative


class ApplyRequest(BaseModel):
    epoch: NonNegative
    primary_site: Name
    entries: Annotated[list[WireEntry], Field(max_length=MAX_BATCH)]


class ApplyResult(BaseModel):
    """``applied``: all entries are in. ``gap``: resend from ``applied_lsn + 1``."""

    status: Literal["applied", "gap"]
    applied_lsn: NonNegative
    epoch: NonNegative


def first_divergent_lsn(
    local: Sequence[EpochRange], primary: Sequence[EpochRange], primary_last_lsn: int
) -> int | None:
    """The first local lsn the primary does not hold identically, or None if none.

    A local entry is kept when the primary's journal has the same lsn at the same epoch.
    Anything past ``primary_last_lsn`` is divergent: the primary will write those lsns
    itself, at its own (newer) epoch.
    """
    for mine in local:
        for lsn in _boundaries(mine, primary):
            if lsn > primary_last_lsn or _epoch_at(primary, lsn) != mine.epoch:
                return lsn
    return None


def _boundaries(mine: EpochRange, primary: Sequence[EpochRange]) -> list[int]:
    # Epochs are constant over a range, so checking where either side's range starts is
    # enough to find the first mismatch inside ``mine``.
    starts = {mine.first_lsn}
    starts.update(r.first_lsn for r in primary if mine.first_lsn < r.first_lsn <= mine.last_lsn)
    starts.update(r.last_lsn + 1 for r in primary if mine.first_lsn <= r.last_lsn < mine.last_lsn)
    return sorted(starts)


def _epoch_at(ranges: Sequence[EpochRange], lsn: int) -> int | None:
    for r in ranges:
        if r.first_lsn <= lsn <= r.last_lsn:
            return r.epoch
    return None


class ExportRequest(BaseModel):
    """Body of ``POST /replication/export``: entries above ``after_lsn``, at most ``limit``."""

    model_config = ConfigDict(extra="forbid")

    after_lsn: NonNegative
    limit: Annotated[int, Field(strict=True, ge=0, le=MAX_BATCH), BeforeValidator(integral)]


class ExportResult(BaseModel):
    """A copy's journal as another copy catches up from it: its epoch ranges and last
    lsn (to find where the two diverge) and the requested entries, in order."""

    last_lsn: NonNegative
    epoch_ranges: list[EpochRange]
    entries: Annotated[list[WireEntry], Field(max_length=MAX_BATCH)]


class CatchUpRequest(BaseModel):
    """Body of ``POST /admin/catch-up``: copy what ``source_site`` has that we lack.

    ``epoch`` is the route's epoch the controller saw; an instance already at a newer
    epoch, or a primary, refuses (a newer primary owns its journal)."""

    model_config = ConfigDict(extra="forbid")

    source_site: Name
    epoch: NonNegative


class CatchUpResult(BaseModel):
    """Where the instance stands after catching up, and what it took."""

    last_lsn: NonNegative
    last_entry_epoch: NonNegative
    fetched: NonNegative
    discarded: NonNegative


def position(ranges: Sequence[EpochRange]) -> tuple[int, int]:
    """``(last entry epoch, last lsn)`` of a journal: how copies are ranked (newer epoch
    first, then longer). ``(0, 0)`` for an empty journal."""
    if not ranges:
        return (0, 0)
    last = max(ranges, key=lambda r: r.last_lsn)
    return (last.epoch, last.last_lsn)
