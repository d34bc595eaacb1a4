"""Journal and ledger rows inside one database session.

The primary and the standbys change the ledger through the same function,
:func:`apply_entry`, so a standby's ledger is the primary's by construction. Callers
own the transaction (see :meth:`app.database.Database.write`).
"""

from __future__ import annotations

import json
import time

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from app.ledger import canonical_json
from app.models import (
    Account,
    DiscardedEntry,
    IdempotencyRecord,
    JournalEntry,
    LedgerTransaction,
)
from app.protocol import Effect, EpochRange, WireEntry
from app.rows import Rows, Sql

# The hot path's statements, in the driver's own SQL (app.rows): every copy runs them
# for every write. The names are the tables and columns of app.models.
_LAST_LSN = Sql("SELECT coalesce(max(lsn), 0) FROM journal")
_LAST_POSITION = Sql("SELECT lsn, epoch FROM journal ORDER BY lsn DESC LIMIT 1")
_SET_AVAILABLE = Sql("UPDATE accounts SET available_credit_minor = ? WHERE customer_id = ?")
_OPEN_ACCOUNT = Sql(
    "INSERT INTO accounts (customer_id, credit_limit_minor, available_credit_minor, opened_lsn)"
    " VALUES (?, ?, ?, ?)"
)
_ADD_TRANSACTION = Sql(
    "INSERT INTO transactions (transaction_id, customer_id, type, amount_minor, currency,"
    " merchant, status, epoch, lsn) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_ADD_KEY = Sql(
    "INSERT INTO idempotency_keys (key, request_hash, response, lsn) VALUES (?, ?, ?, ?)"
)
_ADD_ENTRY = Sql(
    "INSERT INTO journal (lsn, epoch, idempotency_key, request_hash, payload, response)"
    " VALUES (?, ?, ?, ?, ?, ?)"
)
_ENTRIES_AFTER = Sql(
    "SELECT lsn, epoch, idempotency_key, request_hash, payload, response FROM journal"
    " WHERE lsn > ? ORDER BY lsn LIMIT ?"
)
_BALANCE = Sql(
    "SELECT credit_limit_minor, available_credit_minor FROM accounts WHERE customer_id = ?"
)
_KEY_RECORD = Sql("SELECT request_hash, response, lsn FROM idempotency_keys WHERE key = ?")

Transaction = Session | Rows
"""Where the journal functions run: an ORM session's transaction, or the driver-level
rows of :meth:`app.database.Database.append`."""


def _rows(where: Transaction) -> Rows:
    return where if isinstance(where, Rows) else Rows.of(where)


def last_lsn(where: Transaction) -> int:
    """The newest lsn in the journal, 0 when empty."""
    row = _rows(where).first(_LAST_LSN)
    return 0 if row is None else int(row[0] or 0)


def last_position(where: Transaction) -> tuple[int, int]:
    """``(last lsn, epoch of that entry)``; ``(0, 0)`` for an empty journal. Copies are
    compared by this pair, epoch first (docs/design.md §3): the copy with the newer last
    epoch, then the longer one, holds every acknowledged entry the other holds."""
    row = _rows(where).first(_LAST_POSITION)
    return (0, 0) if row is None else (int(row[0]), int(row[1]))


def apply_entry(where: Transaction, entry: WireEntry) -> str:
    """Write ``entry`` and its ledger effect. The caller guarantees ``lsn == last + 1``.

    Returns the entry as :func:`entries_json_after` will read it back once committed,
    built from the very strings stored, so a primary can ship it without reading it
    again. Driver-level statements, not the ORM unit of work: this is the hot path on
    every instance, and nothing here may be served from a stale identity map.
    """
    rows = _rows(where)
    effect = entry.payload
    if rows.run(_SET_AVAILABLE, (effect.available_after_minor, effect.customer_id)) == 0:
        rows.run(
            _OPEN_ACCOUNT,
            (
                effect.customer_id,
                effect.credit_limit_minor,
                effect.available_after_minor,
                entry.lsn,
            ),
        )
    rows.run(
        _ADD_TRANSACTION,
        (
            effect.transaction_id,
            effect.customer_id,
            effect.type,
            effect.amount_minor,
            effect.currency,
            effect.merchant,
            effect.status,
            entry.epoch,
            entry.lsn,
        ),
    )
    response = canonical_json(entry.response.model_dump())
    payload = canonical_json(effect.model_dump())
    rows.run(_ADD_KEY, (entry.idempotency_key, entry.request_hash, response, entry.lsn))
    rows.run(
        _ADD_ENTRY,
        (entry.lsn, entry.epoch, entry.idempotency_key, entry.request_hash, payload, response),
    )
    return _wire_json(
        entry.lsn, entry.epoch, entry.idempotency_key, entry.request_hash, payload, response
    )


def account_balance(where: Transaction, customer_id: str) -> tuple[int, int] | None:
    """``(credit_limit_minor, available_credit_minor)`` of an open account, else None."""
    row = _rows(where).first(_BALANCE, (customer_id,))
    return None if row is None else (int(row[0]), int(row[1]))


def idempotency_record(where: Transaction, key: str) -> tuple[str, str, int] | None:
    """``(request_hash, response_json, lsn)`` stored for ``key``, else None."""
    row = _rows(where).first(_KEY_RECORD, (key,))
    return None if row is None else (str(row[0]), str(row[1]), int(row[2]))


def entries_json_after(where: Transaction, lsn: int, limit: int) -> list[str]:
    """Up to ``limit`` entries above ``lsn``, in order, as :class:`WireEntry` JSON objects.

    Built from the stored canonical JSON without parsing it again: this runs for every
    shipment. The receiver validates each entry against :class:`WireEntry`.
    """
    return [
        _wire_json(int(lsn_), int(epoch), key, fingerprint, payload, response)
        for lsn_, epoch, key, fingerprint, payload, response in _rows(where).all(
            _ENTRIES_AFTER, (lsn, limit)
        )
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
