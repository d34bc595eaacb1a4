"""The unit's tables (SQLAlchemy 2 typed ORM).

- ``accounts``, ``transactions``: the ledger.
- ``idempotency_keys``: key -> request hash and the full original response (docs/design.md §3.3).
- ``journal``: one entry per committed write, gap-free ``lsn``; written in the same
  database transaction as the ledger rows it describes, and shipped to the standbys.
- ``node_state``: one row: role, epoch, primary site and standbys; survives restarts.
- ``discarded_entries``: journal entries a demoted former primary threw away when it
  re-synced from a newer primary (input to RPO accounting).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Float, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NODE_STATE_ID = 1


class Base(DeclarativeBase):
    """Declarative base of the unit's schema."""


class Account(Base):
    __tablename__ = "accounts"

    customer_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    credit_limit_minor: Mapped[int] = mapped_column(BigInteger)
    available_credit_minor: Mapped[int] = mapped_column(BigInteger)
    opened_lsn: Mapped[int] = mapped_column(BigInteger)


class LedgerTransaction(Base):
    __tablename__ = "transactions"

    transaction_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(64), index=True)
    type: Mapped[str] = mapped_column(String(16))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    merchant: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16))
    epoch: Mapped[int] = mapped_column(BigInteger)
    lsn: Mapped[int] = mapped_column(BigInteger, unique=True)


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_keys"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    response: Mapped[str] = mapped_column(Text)
    lsn: Mapped[int] = mapped_column(BigInteger)


class JournalEntry(Base):
    __tablename__ = "journal"

    lsn: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    epoch: Mapped[int] = mapped_column(BigInteger, index=True)
    idempotency_key: Mapped[str] = mapped_column(String(128))
    request_hash: Mapped[str] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text)
    response: Mapped[str] = mapped_column(Text)


class NodeStateRow(Base):
    __tablename__ = "node_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    role: Mapped[str] = mapped_column(String(16))
    epoch: Mapped[int] = mapped_column(BigInteger)
    primary_site: Mapped[str | None] = mapped_column(String(64))
    standbys: Mapped[str] = mapped_column(Text, default="[]")
    acks_required: Mapped[int | None] = mapped_column(Integer, nullable=True)
    updated_at: Mapped[float] = mapped_column(Float)


class DiscardedEntry(Base):
    __tablename__ = "discarded_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    lsn: Mapped[int] = mapped_column(BigInteger)
    epoch: Mapped[int] = mapped_column(BigInteger)
    idempotency_key: Mapped[str] = mapped_column(String(128))
    request_hash: Mapped[str] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text)
    response: Mapped[str] = mapped_column(Text)
    discarded_at: Mapped[float] = mapped_column(Float)
    discarded_for_epoch: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text)
