"""The records store: the audit trail of observations, decisions, actions and outcomes.

SQLAlchemy 2.x, one table of events (SQLite file in the state dir by default, PostgreSQL
by URL). Every event is committed *before* the step it announces runs (docs/design.md §3.7).
Times are Unix seconds. What a new leader needs to finish a step is in etcd
(:mod:`failover.controller.state`); this store is for people and drills.

Event kinds (``data`` fields in brackets) — see docs/controller.md §10.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Float, Integer, String, Text, create_engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column


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


@dataclass(frozen=True, slots=True)
class Event:
    id: int
    at: float
    controller: str
    kind: str
    unit: str | None
    site: str | None
    summary: str
    data: Mapping[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at,
            "controller": self.controller,
            "kind": self.kind,
            "unit": self.unit,
            "site": self.site,
            "summary": self.summary,
            "data": dict(self.data),
        }


class RecordStore:
    """Append and list events. Thread-safe; every append is its own committed transaction."""

    def __init__(self, url: str, controller: str) -> None:
        args = {"check_same_thread": False} if url.startswith("sqlite") else {}
        self._engine = create_engine(url, connect_args=args)
        Base.metadata.create_all(self._engine)
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
            session.commit()
            return _event(row)

    def events(
        self, *, since_id: int = 0, kind: str | None = None, limit: int = 1000
    ) -> list[Event]:
        """Events in the order they were recorded (oldest first)."""
        query = select(EventRow).where(EventRow.id > since_id).order_by(EventRow.id).limit(limit)
        if kind is not None:
            query = query.where(EventRow.kind == kind)
        with Session(self._engine) as session:
            return [_event(row) for row in session.scalars(query)]

    def close(self) -> None:
        self._engine.dispose()


def _event(row: EventRow) -> Event:
    return Event(
        row.id,
        row.at,
        row.controller,
        row.kind,
        row.unit,
        row.site,
        row.summary,
        json.loads(row.data),
    )
