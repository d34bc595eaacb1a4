"""Driver-level SQL for the hot path: the database driver's own cursor inside an open
transaction, and statements written once in SQL that SQLite and PostgreSQL both accept.

Every write runs some ten statements across its three copies. Through SQLAlchemy's
execution layer each cost ~35 µs of CPU on this machine, against ~4 µs through the
driver's cursor (``bench/sql_statements.py``; docs/benchmarks.md, "Sixteenth session").
The transaction itself stays SQLAlchemy's: :meth:`app.database.Database.append` opens it
on a pooled connection, and :meth:`Rows.of` reaches the same connection from a
:class:`~sqlalchemy.orm.Session`, so cold paths (discarding, catching up) can mix ORM
work and these statements in one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.engine.interfaces import DBAPICursor
from sqlalchemy.orm import Session


class Sql:
    """One statement with ``?`` placeholders, also kept in the ``%s`` style of psycopg.

    Contract: the text holds no literal ``?`` other than placeholders."""

    __slots__ = ("format", "qmark")

    def __init__(self, text: str) -> None:
        self.qmark = text
        self.format = text.replace("?", "%s")


class Rows:
    """The driver's cursor of one open transaction, and which of the two styles it takes.

    Contract: the caller owns the transaction (commit, rollback, closing); ``Rows`` only
    runs statements in it."""

    __slots__ = ("_cursor", "_qmark")

    def __init__(self, cursor: DBAPICursor, *, sqlite: bool) -> None:
        self._cursor = cursor
        self._qmark = sqlite

    @classmethod
    def of(cls, session: Session) -> Rows:
        """The rows of ``session``'s transaction (begun here if it has not begun). ORM
        changes still pending in the session are flushed first so they are visible."""
        session.flush()
        connection = session.connection()
        return cls(connection.connection.cursor(), sqlite=connection.dialect.name == "sqlite")

    def run(self, sql: Sql, params: Sequence[Any] = ()) -> int:
        """Execute ``sql``; the number of rows it changed (for UPDATE and DELETE)."""
        return int(self._execute(sql, params).rowcount)

    def first(self, sql: Sql, params: Sequence[Any] = ()) -> Sequence[Any] | None:
        """The first row ``sql`` selects, or None."""
        row: Sequence[Any] | None = self._execute(sql, params).fetchone()
        return row

    def all(self, sql: Sql, params: Sequence[Any] = ()) -> Sequence[Sequence[Any]]:
        """Every row ``sql`` selects."""
        return self._execute(sql, params).fetchall()

    def _execute(self, sql: Sql, params: Sequence[Any]) -> DBAPICursor:
        self._cursor.execute(sql.qmark if self._qmark else sql.format, params)
        return self._cursor
