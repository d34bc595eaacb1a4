"""Database access: engine set-up for SQLite and PostgreSQL, and serialized write sessions.

Writes of a unit are serialized twice over, so the journal ``lsn`` is gap-free and the
available-credit check cannot race:

- in-process, by one lock (one process serves one unit; the lock also orders journal
  appends with role changes);
- in the database, so a second process on the same database could not interleave:
  SQLite writes run in ``BEGIN IMMEDIATE`` (WAL mode, busy timeout), PostgreSQL writes
  take ``SELECT ... FOR UPDATE`` on the single ``node_state`` row first.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from sqlalchemy.pool import PoolProxiedConnection
from tenacity import Retrying, retry_if_exception, stop_after_delay, wait_random

from app.migrations import upgrade_to_head
from app.models import NODE_STATE_ID, NodeStateRow
from app.rows import Rows, Sql

SQLITE_BUSY_TIMEOUT_MS = 10_000
_WRITE_OPTION = "watertight_write"


class Database:
    """One unit's database. Thread-safe; sessions are short-lived."""

    def __init__(self, url: str) -> None:
        self.url = make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        self._write_lock = threading.Lock()
        self._writes_finished = 0
        self._appender: PoolProxiedConnection | None = None
        self.engine = self._sqlite_engine() if self.is_sqlite else self._server_engine()

    def _sqlite_engine(self) -> Engine:
        database = self.url.database or ""
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            self.url,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        )
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine

    def _server_engine(self) -> Engine:
        return create_engine(self.url, pool_size=10, max_overflow=30, pool_pre_ping=True)

    def create_schema(self) -> None:
        """Upgrade the database to the head revision (idempotent; keeps every row).

        An empty database gets the whole schema; one made by ``create_all`` before
        migrations existed is recognised and stamped first (:mod:`app.migrations`).
        Several processes may open the same database at once: SQLite queues them on
        its write lock, PostgreSQL on an advisory lock. All or nothing on both.
        """
        with self.engine.connect() as connection:
            # BEGIN IMMEDIATE on SQLite: see _sqlite_on_begin.
            connection.execution_options(**{_WRITE_OPTION: True})
            with connection.begin():
                upgrade_to_head(connection)

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only session in its own transaction (rolled back at the end)."""
        with Session(self.engine, expire_on_commit=False) as session:
            yield session

    @property
    def writes_finished(self) -> int:
        """How many write transactions have ended (committed or rolled back) so far.

        Counted after the transaction ends, so a reader that sees the same count before
        and after reading something derived from the database knows no write ended in
        between: what it read is still what the database holds, apart from a write still
        in flight (not yet acknowledged to anyone). Every change to a unit's database goes
        through :meth:`write`, so the count is exact.
        """
        return self._writes_finished

    @contextmanager
    def write(self) -> Iterator[Session]:
        """The unit's one write transaction at a time; commits on success."""
        with self._write_lock:
            try:
                with self.engine.connect() as connection:
                    connection.execution_options(**{_WRITE_OPTION: True})
                    with connection.begin():
                        session = Session(bind=connection, expire_on_commit=False)
                        try:
                            if not self.is_sqlite:
                                _lock_node_state(session)
                            yield session
                            session.flush()
                        finally:
                            session.close()
            finally:
                self._writes_finished += 1

    @contextmanager
    def append(self) -> Iterator[Rows]:
        """The same one write transaction at a time as :meth:`write`, on the driver's
        cursor (:mod:`app.rows`) instead of an ORM session: the hot path of every copy
        (group commit, applying shipped entries). Commits on success, rolls back on any
        exception, and counts in :attr:`writes_finished` like :meth:`write`.

        The connection is kept for the next append after a commit (a pool checkout cost
        about as much as the statements); after any failure it goes back to the pool,
        which rolls it back or discards it, and the next append checks out a fresh one."""
        with self._write_lock:
            connection, self._appender = self._appender or self.engine.raw_connection(), None
            committed = False
            try:
                rows = Rows(connection.cursor(), sqlite=self.is_sqlite)
                # The same locks as write(): BEGIN IMMEDIATE, or the node_state row.
                rows.run(_BEGIN_IMMEDIATE if self.is_sqlite else _LOCK_NODE_STATE)
                yield rows
                connection.commit()
                committed = True
            finally:
                if committed:
                    self._appender = connection
                else:
                    connection.close()
                self._writes_finished += 1

    @contextmanager
    def query(self) -> Iterator[Rows]:
        """Driver-level reads (:mod:`app.rows`) on a pooled connection, rolled back at
        the end, isolated as :meth:`read` is (one snapshot on SQLite, read committed on
        PostgreSQL), without an ORM session."""
        connection = self.engine.raw_connection()
        try:
            rows = Rows(connection.cursor(), sqlite=self.is_sqlite)
            if self.is_sqlite:
                # isolation_level is None here (see _sqlite_on_connect): without BEGIN
                # each statement would read its own snapshot.
                rows.run(_BEGIN)
            yield rows
        finally:
            connection.close()  # the pool rolls it back

    def ping(self) -> bool:
        """True when the database answers a trivial query."""
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception:  # any driver error means "not reachable" here
            return False
        return True

    def dispose(self) -> None:
        with self._write_lock:
            if self._appender is not None:
                self._appender.close()
                self._appender = None
        self.engine.dispose()


_BEGIN = Sql("BEGIN")
_BEGIN_IMMEDIATE = Sql("BEGIN IMMEDIATE")
_LOCK_NODE_STATE = Sql(f"SELECT id FROM node_state WHERE id = {NODE_STATE_ID} FOR UPDATE")


def _lock_node_state(session: Session) -> None:
    # The row may not exist yet on a brand-new database; the write that creates it is
    # the first one and is serialized by the in-process lock.
    session.execute(
        select(NodeStateRow.id).where(NodeStateRow.id == NODE_STATE_ID).with_for_update()
    )


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Take transaction control away from the sqlite3 module so that "begin" below decides
    # between a deferred (read) and an immediate (write) transaction.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        _enter_wal_mode(cursor)
        cursor.execute("PRAGMA synchronous=FULL")
    finally:
        cursor.close()


def _enter_wal_mode(cursor: sqlite3.Cursor) -> None:
    # SQLite answers "database is locked" at once, without its busy handler, when this
    # connection asks for WAL while another one is converting the same new file to WAL
    # (four processes opening one fresh database hit it about once in twelve tries), so
    # wait here, within the same budget the busy handler would have had.
    retrying = Retrying(
        retry=retry_if_exception(_is_database_locked),
        wait=wait_random(0.005, 0.05),
        stop=stop_after_delay(SQLITE_BUSY_TIMEOUT_MS / 1000),
        reraise=True,
    )
    for attempt in retrying:
        with attempt:
            cursor.execute("PRAGMA journal_mode=WAL")


def _is_database_locked(error: BaseException) -> bool:
    return isinstance(error, sqlite3.OperationalError) and "locked" in str(error)


def _sqlite_on_begin(connection: Any) -> None:
    immediate = connection.get_execution_options().get(_WRITE_OPTION, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
