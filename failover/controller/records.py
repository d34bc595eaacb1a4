"""The records store: the audit trail of observations, decisions, actions and outcomes.

SQLAlchemy 2.x, one table of events (SQLite file in the state dir by default, PostgreSQL
by URL). Every event is committed *before* the step it announces runs (docs/design.md §3.7).
Times are Unix seconds. What a new leader needs to finish a step is in etcd
(:mod:`failover.controller.state`); this store is for people and drills.

Event kinds (``data`` fields in brackets) — see docs/controller.md §11. Every event is
built as a :class:`failover.events.Event`, the one wire schema of ``/v1/events``.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from sqlalchemy import Engine, Float, Integer, String, Text, create_engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from failover.controller.migrations import upgrade_to_head
from failover.events import Event


class Base(DeclarativeBase):
    pass


class EventRow(Base):
    __tablename__ = "controller_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[float] = mapped_column(Float, index=True)
    controller: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(64), index=True)
    unit: Mapped[str | None] = mapped_column(String(64), nullable=True)
    site: Mapped[str | None] = mapped_column(String(64), nullable=True)
    summary: Mapped[str] = mapped_column(Text)
    data: Mapped[str] = mapped_column(Text, default="{}")


class RecordStore:
    """Append and list events. Thread-safe; every append is its own committed transaction.

    Opening the store upgrades its schema to the head revision (see :func:`_migrate`).
    """

    def __init__(self, url: str, controller: str) -> None:
        args = {"check_same_thread": False} if url.startswith("sqlite") else {}
        self._engine = create_engine(url, connect_args=args)
        _migrate(self._engine)
        self._controller = controller
        self._lock = threading.Lock()

    def record(
        self,
        kind: str,
        summary: str,
        *,
        unit: str | None = None,
        site: str | None = None,
        at: float | None = None,
        **data: Any,
    ) -> Event:
        row = EventRow(
            at=time.time() if at is None else at,
            controller=self._controller,
            kind=kind,
            unit=unit,
            site=site,
            summary=summary,
            data=json.dumps(data, sort_keys=True, default=str),
        )
        with self._lock, Session(self._engine) as session:
            session.add(row)
            # The flush gives the id; the event is checked against the wire schema before
            # the commit, so no row is stored that ``/v1/events`` could not answer.
            session.flush()
            event = _event(row)
            session.commit()
            return event

    def events(
        self, *, since_id: int = 0, kind: str | None = None, limit: int = 1000
    ) -> list[Event]:
        """Events in the order they were recorded (oldest first)."""
        query = select(EventRow).where(EventRow.id > since_id).order_by(EventRow.id).limit(limit)
        if kind is not None:
            query = query.where(EventRow.kind == kind)
        with Session(self._engine) as session:
            return [_event(row) for row in session.scalars(query)]

    def recent(self, limit: int) -> list[Event]:
        """The newest ``limit`` events, oldest first (the console's timeline)."""
        query = select(EventRow).order_by(EventRow.id.desc()).limit(limit)
        with Session(self._engine) as session:
            return [_event(row) for row in reversed(list(session.scalars(query)))]

    def close(self) -> None:
        self._engine.dispose()


def _event(row: EventRow) -> Event:
    return Event(
        id=row.id,
        at=row.at,
        controller=row.controller,
        kind=row.kind,
        unit=row.unit,
        site=row.site,
        summary=row.summary,
        data=json.loads(row.data),
    )


def _migrate(engine: Engine) -> None:
    """Upgrade the store to the head revision in one transaction, keeping every row.

    A store made by ``create_all`` before migrations existed is recognised and stamped;
    controllers opening one database at once queue (:mod:`failover.controller.migrations`).
    """
    with engine.connect() as connection, connection.begin():
        if connection.dialect.name == "sqlite":
            # pysqlite leaves DDL outside any transaction and takes the write lock late:
            # BEGIN IMMEDIATE makes the upgrade all or nothing and queues other openers.
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        upgrade_to_head(connection)
