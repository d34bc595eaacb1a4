"""Read-only views: transactions, accounts, the unit's replication status, digests.

Reads are served in every role (a standby answers from what it has applied); only the
router decides where customers' reads go.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import func, select

from app import journal
from app.database import Database
from app.errors import NotFoundError
from app.models import Account, DiscardedEntry, JournalEntry, LedgerTransaction
from app.node import Node
from app.schemas import AccountView, TransactionView
from app.traffic import TrafficCounters


class Queries:
    """Answers the GET endpoints."""

    def __init__(
        self,
        node: Node,
        db: Database,
        credit_limit_minor: int,
        traffic: TrafficCounters | None = None,
    ) -> None:
        self._node = node
        self._db = db
        self._limit = credit_limit_minor
        self._traffic = traffic or TrafficCounters()
        self._position: tuple[int, tuple[int, int]] | None = None
        """``(writes finished when read, (last lsn, its epoch))``: the journal position
        as of the last read, valid while no write has ended since."""

    def cached_position(self) -> tuple[int, int] | None:
        """The journal's ``(last lsn, its epoch)`` without touching the database, when no
        write has ended since it was last read; None when it must be read again."""
        cached = self._position
        if cached is not None and cached[0] == self._db.writes_finished:
            return cached[1]
        return None

    def journal_position(self) -> tuple[int, int]:
        """The journal's ``(last lsn, its epoch)`` (``(0, 0)`` when empty), read from the
        database unless :meth:`cached_position` still holds.

        The count of finished writes is taken *before* the read: a write that ends while
        the read runs bumps it, so the value kept is re-read next time rather than
        trusted (docs/design.md §5, observers' probes)."""
        cached = self.cached_position()
        if cached is not None:
            return cached
        writes_before = self._db.writes_finished
        with self._db.query() as rows:
            position = journal.last_position(rows)
        self._position = (writes_before, position)
        return position

    def transaction(self, customer_id: str, transaction_id: str) -> TransactionView:
        with self._db.read() as session:
            row = session.get(LedgerTransaction, transaction_id)
        if row is None or row.customer_id != customer_id:
            raise NotFoundError(f"no transaction {transaction_id!r} for customer {customer_id!r}")
        settings = self._node.settings
        return TransactionView(
            transaction_id=row.transaction_id,
            customer_id=row.customer_id,
            type=row.type,
            amount_minor=row.amount_minor,
            currency=row.currency,
            merchant=row.merchant,
            status=row.status,
            epoch=row.epoch,
            lsn=row.lsn,
            unit=settings.unit,
            site=settings.site,
        )

    def account(self, customer_id: str) -> AccountView:
        with self._db.read() as session:
            row = session.get(Account, customer_id)
        settings = self._node.settings
        return AccountView(
            customer_id=customer_id,
            credit_limit_minor=row.credit_limit_minor if row else self._limit,
            available_credit_minor=row.available_credit_minor if row else self._limit,
            opened=row is not None,
            unit=settings.unit,
            site=settings.site,
        )

    def unit(self, position: tuple[int, int] | None = None) -> dict[str, Any]:
        """``/v1/unit``: who we are, our journal position (``position`` when the caller
        already has it from :meth:`journal_position`), our business traffic so far
        (:mod:`app.traffic`) and (as primary) our standbys."""
        role = self._node.role
        last, last_epoch = position if position is not None else self.journal_position()
        settings = self._node.settings
        body: dict[str, Any] = {
            "unit": settings.unit,
            "site": settings.site,
            "role": role.role,
            "epoch": role.epoch,
            "primary_site": role.primary_site,
            "last_lsn": last,
            "last_entry_epoch": last_epoch,
            "fence_reason": self._node.fence_reason,
            "traffic": self._traffic.view(),
        }
        replicator = self._node.replicator
        if role.role == "primary" and replicator is not None:
            body["commit_rule"] = self._node.topology.replication.commit_rule
            body["acks_needed"] = replicator.acks_needed
            body["durable_lsn"] = replicator.durable_lsn()
            body["standbys"] = [
                {
                    "site": s.site,
                    "applied_lsn": s.applied_lsn,
                    "lag_entries": None if s.applied_lsn is None else last - s.applied_lsn,
                    "healthy": s.healthy,
                    "last_error": s.last_error,
                }
                for s in replicator.statuses()
            ]
        return body

    def digest(self) -> dict[str, Any]:
        """Fingerprints of the journal and of the ledger, to compare instances."""
        with self._db.read() as session:
            journal_hash = hashlib.sha256()
            for row in session.scalars(select(JournalEntry).order_by(JournalEntry.lsn)):
                line = [row.lsn, row.epoch, row.idempotency_key, row.request_hash, row.payload]
                journal_hash.update(json.dumps(line).encode())
            ledger_hash = hashlib.sha256()
            for account in session.scalars(select(Account).order_by(Account.customer_id)):
                line2 = [account.customer_id, account.available_credit_minor]
                ledger_hash.update(json.dumps(line2).encode())
            transactions = session.scalar(select(func.count()).select_from(LedgerTransaction))
            last = journal.last_lsn(session)
        return {
            "last_lsn": last,
            "journal_sha256": journal_hash.hexdigest(),
            "ledger_sha256": ledger_hash.hexdigest(),
            "transactions": int(transactions or 0),
        }

    def discarded(self) -> list[dict[str, Any]]:
        """Entries this instance discarded when re-syncing (oldest first)."""
        with self._db.read() as session:
            rows = session.scalars(select(DiscardedEntry).order_by(DiscardedEntry.id))
            return [
                {
                    "lsn": r.lsn,
                    "epoch": r.epoch,
                    "idempotency_key": r.idempotency_key,
                    "request_hash": r.request_hash,
                    "payload": json.loads(r.payload),
                    "response": json.loads(r.response),
                    "discarded_at": r.discarded_at,
                    "discarded_for_epoch": r.discarded_for_epoch,
                    "reason": r.reason,
                }
                for r in rows
            ]
