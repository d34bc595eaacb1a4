"""Journal and ledger rows inside one database session.

The primary and the standbys change the ledger through the same function,
:func:`apply_entry`, so a standby's ledger is the primary's by construction. Callers
own the transaction (see :meth:`app.database.Database.write`).
"""

from __future__ import annotations

import json
import time

from sqlalchemy import Table, bindparam, delete, func, insert, select, update
from sqlalchemy.orm import Session

from app.ledger import canonical_json
from app.models import (
    Account,
    Base,
    DiscardedEntry,
    IdempotencyRecord,
    JournalEntry,
    LedgerTransaction,
)
from app.protocol import Effect, EpochRange, WireEntry


def _table(model: type[Base]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


_ACCOUNTS = _table(Account)
_TRANSACTIONS = _table(LedgerTransaction)
_KEYS = _table(IdempotencyRecord)
_JOURNAL = _table(JournalEntry)

# The hot path's statements, built once with bound parameters. Building a statement per
# call cost SQLAlchemy ~170 µs each on the slower 2-core machine (constructing it and
# generating its cache key), against ~30 µs to execute a built one; a write runs seven
# or eight (bench/sql_statements.py; docs/benchmarks.md, capacity, "Twelfth session").
_LAST_LSN = select(func.coalesce(func.max(_JOURNAL.c.lsn), 0))
_LAST_POSITION = select(_JOURNAL.c.lsn, _JOURNAL.c.epoch).order_by(_JOURNAL.c.lsn.desc()).limit(1)
_SET_AVAILABLE = (
    update(_ACCOUNTS)
    .where(_ACCOUNTS.c.customer_id == bindparam("the_customer"))
    .values(available_credit_minor=bindparam("available"))
)
_OPEN_ACCOUNT = insert(_ACCOUNTS)
_ADD_TRANSACTION = insert(_TRANSACTIONS)
_ADD_KEY = insert(_KEYS)
_ADD_ENTRY = insert(_JOURNAL)
_ENTRIES_AFTER = (
    select(
        _JOURNAL.c.lsn,
        _JOURNAL.c.epoch,
        _JOURNAL.c.idempotency_key,
        _JOURNAL.c.request_hash,
        _JOURNAL.c.payload,
        _JOURNAL.c.response,
    )
    .where(_JOURNAL.c.lsn > bindparam("after"))
    .order_by(_JOURNAL.c.lsn)
    .limit(bindparam("at_most"))
)
_BALANCE = select(_ACCOUNTS.c.credit_limit_minor, _ACCOUNTS.c.available_credit_minor).where(
    _ACCOUNTS.c.customer_id == bindparam("the_customer")
)
_KEY_RECORD = select(_KEYS.c.request_hash, _KEYS.c.response, _KEYS.c.lsn).where(
    _KEYS.c.key == bindparam("the_key")
)


def last_lsn(session: Session) -> int:
    """The newest lsn in the journal, 0 when empty."""
    return int(session.connection().execute(_LAST_LSN).scalar() or 0)


def last_position(session: Session) -> tuple[int, int]:
    """``(last lsn, epoch of that entry)``; ``(0, 0)`` for an empty journal. Copies are
    compared by this pair, epoch first (docs/design.md §3): the copy with the newer last
    epoch, then the longer one, holds every acknowledged entry the other holds."""
    row = session.connection().execute(_LAST_POSITION).first()
    return (0, 0) if row is None else (int(row[0]), int(row[1]))


def apply_entry(session: Session, entry: WireEntry) -> str:
    """Write ``entry`` and its ledger effect. The caller guarantees ``lsn == last + 1``.

    Returns the entry as :func:`entries_json_after` will read it back once committed,
    built from the very strings stored, so a primary can ship it without reading it
    again. Core statements, not the ORM unit of work: this is the hot path on every
    instance, and nothing here may be served from a stale identity map.
    """
    connection = session.connection()
    effect = entry.payload
    updated = connection.execute(
        _SET_AVAILABLE,
        {"the_customer": effect.customer_id, "available": effect.available_after_minor},
    )
    if updated.rowcount == 0:
        connection.execute(
            _OPEN_ACCOUNT,
            {
                "customer_id": effect.customer_id,
                "credit_limit_minor": effect.credit_limit_minor,
                "available_credit_minor": effect.available_after_minor,
                "opened_lsn": entry.lsn,
            },
        )
    connection.execute(
        _ADD_TRANSACTION,
        {
            "transaction_id": effect.transaction_id,
            "customer_id": effect.customer_id,
            "type": effect.type,
            "amount_minor": effect.amount_minor,
            "currency": effect.currency,
            "merchant": effect.merchant,
            "status": effect.status,
            "epoch": entry.epoch,
            "lsn": entry.lsn,
        },
    )
    response = canonical_json(entry.response.model_dump())
    payload = canonical_json(effect.model_dump())
    connection.execute(
        _ADD_KEY,
        {
            "key": entry.idempotency_key,
            "request_hash": entry.request_hash,
            "response": response,
            "lsn": entry.lsn,
        },
    )
    connection.execute(
        _ADD_ENTRY,
        {
            "lsn": entry.lsn,
            "epoch": entry.epoch,
            "idempotency_key": entry.idempotency_key,
            "request_hash": entry.request_hash,
            "payload": payload,
            "response": response,
        },
    )
    return _wire_json(
        entry.lsn, entry.epoch, entry.idempotency_key, entry.request_hash, payload, response
    )


def account_balance(session: Session, customer_id: str) -> tuple[int, int] | None:
    """``(credit_limit_minor, available_credit_minor)`` of an open account, else None."""
    row = session.connection().execute(_BALANCE, {"the_customer": customer_id}).first()
    return None if row is None else (int(row[0]), int(row[1]))


def idempotency_record(session: Session, key: str) -> tuple[str, str, int] | None:
    """``(request_hash, response_json, lsn)`` stored for ``key``, else None."""
    row = session.connection().execute(_KEY_RECORD, {"the_key": key}).first()
    return None if row is None else (str(row[0]), str(row[1]), int(row[2]))


def entries_json_after(session: Session, lsn: int, limit: int) -> list[str]:
    """Up to ``limit`` entries above ``lsn``, in order, as :class:`WireEntry` JSON objects.

    Built from the stored canonical JSON without parsing it again: this runs for every
    shipment. The receiver validates each entry against :class:`WireEntry`.
    """
    rows = session.connection().execute(_ENTRIES_AFTER, {"after": lsn, "at_most": limit})
    return [
        _wire_json(int(lsn_), int(epoch), key, fingerprint, payload, response)
        for lsn_, epoch, key, fingerprint, payload, response in rows
    ]


def _wire_json(
    lsn: int, epoch: int, key: str, fingerprint: str, payload: str, response: str
) -> str:
    """A :class:`WireEntry` JSON object around the stored canonical payload and response."""
    return (
        f'{{"lsn":{lsn},"epoch":{epoch},"idempotency_key":{json.dumps(key)},'
        f'"request_hash":{json.dumps(fingerprint)},"payload":{payload},"response":{response}}}'
    )


def epoch_ranges(session: Session) -> list[EpochRange]:
    """Which epoch wrote which lsn range, oldest first."""
    rows = session.execute(
        select(JournalEntry.epoch, func.min(JournalEntry.lsn), func.max(JournalEntry.lsn))
        .group_by(JournalEntry.epoch)
        .order_by(func.min(JournalEntry.lsn))
    )
    return [EpochRange(epoch=e, first_lsn=first, last_lsn=last) for e, first, last in rows]


def discard_from(session: Session, first_lsn: int, *, for_epoch: int, reason: str) -> int:
    """Undo and remove every entry from ``first_lsn`` on, newest first; record each one.

    Returns how many entries were discarded. Their ledger effect is reversed exactly
    (available credit moves back by the entry's delta; an account opened by a discarded
    entry is removed), so the remaining ledger equals the journal prefix.
    """
    rows = list(
        session.scalars(
            select(JournalEntry)
            .where(JournalEntry.lsn >= first_lsn)
            .order_by(JournalEntry.lsn.desc())
        )
    )
    now = time.time()
    for row in rows:
        _undo(session, row)
        session.add(
            DiscardedEntry(
                lsn=row.lsn,
                epoch=row.epoch,
                idempotency_key=row.idempotency_key,
                request_hash=row.request_hash,
                payload=row.payload,
                response=row.response,
                discarded_at=now,
                discarded_for_epoch=for_epoch,
                reason=reason,
            )
        )
    session.flush()
    return len(rows)


def _undo(session: Session, row: JournalEntry) -> None:
    effect = Effect.model_validate(json.loads(row.payload))
    account = session.get(Account, effect.customer_id)
    if account is not None:
        if account.opened_lsn == row.lsn:
            session.delete(account)
        else:
            account.available_credit_minor -= effect.delta_minor
    session.execute(delete(LedgerTransaction).where(LedgerTransaction.lsn == row.lsn))
    session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.lsn == row.lsn))
    session.delete(row)
    session.flush()
