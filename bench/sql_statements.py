"""What building a SQLAlchemy statement per call costs, beside running one built once.

    .venv/bin/python bench/sql_statements.py [--rounds 3000]

On a SQLite file in a temp directory with the unit's schema, each round reads one
account's balance and sets its available credit, four ways: a statement built per call
(the hot path before 2026-12-01), statements built once with bound parameters (the hot
path from then to 2026-12-02), the driver's SQL text through SQLAlchemy
(``exec_driver_sql``), the DBAPI cursor itself, and :class:`app.rows.Rows` over that
cursor (the hot path since). Prints microseconds per round (two statements) for each,
twice, in one process. No pass/fail: the figures go to docs/benchmarks.md ("Twelfth
session", "Sixteenth session").
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Connection, Table, bindparam, insert, select, update

from app import journal
from app.database import Database
from app.models import Account
from app.rows import Rows

Round = Callable[[Connection, str, int], None]
ACCOUNTS = Account.__table__
assert isinstance(ACCOUNTS, Table)
BALANCE = select(ACCOUNTS.c.credit_limit_minor, ACCOUNTS.c.available_credit_minor).where(
    ACCOUNTS.c.customer_id == bindparam("the_customer")
)
SET_AVAILABLE = (
    update(ACCOUNTS)
    .where(ACCOUNTS.c.customer_id == bindparam("the_customer"))
    .values(available_credit_minor=bindparam("available"))
)


def built_per_call(connection: Connection, customer: str, value: int) -> None:
    accounts = ACCOUNTS
    connection.execute(
        select(accounts.c.credit_limit_minor, accounts.c.available_credit_minor).where(
            accounts.c.customer_id == customer
        )
    ).first()
    connection.execute(
        update(accounts)
        .where(accounts.c.customer_id == customer)
        .values(available_credit_minor=value)
    )


def built_once(connection: Connection, customer: str, value: int) -> None:
    connection.execute(BALANCE, {"the_customer": customer}).first()
    connection.execute(SET_AVAILABLE, {"the_customer": customer, "available": value})


def driver_sql(connection: Connection, customer: str, value: int) -> None:
    connection.exec_driver_sql(
        "SELECT credit_limit_minor, available_credit_minor FROM accounts WHERE customer_id = ?",
        (customer,),
    ).first()
    connection.exec_driver_sql(
        "UPDATE accounts SET available_credit_minor = ? WHERE customer_id = ?", (value, customer)
    )


def dbapi_cursor(connection: Connection, customer: str, value: int) -> None:
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    cursor.execute(
        "SELECT credit_limit_minor, available_credit_minor FROM accounts WHERE customer_id = ?",
        (customer,),
    ).fetchone()
    cursor.execute(
        "UPDATE accounts SET available_credit_minor = ? WHERE customer_id = ?", (value, customer)
    )


def driver_rows(connection: Connection, customer: str, value: int) -> None:
    rows = Rows(connection.connection.cursor(), sqlite=True)
    journal.account_balance(rows, customer)
    rows.run(journal._SET_AVAILABLE, (value, customer))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="wt-sql-") as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'bench.db'}")
        db.create_schema()
        customers = [f"c{i}" for i in range(500)]
        with db.engine.begin() as connection:
            rows = [
                {
                    "customer_id": c,
                    "credit_limit_minor": 10_000,
                    "available_credit_minor": 10_000,
                    "opened_lsn": 1,
                }
                for c in customers
            ]
            connection.execute(insert(ACCOUNTS), rows)
        ways: list[tuple[str, Round]] = [
            ("statement built per call", built_per_call),
            ("statement built once", built_once),
            ("driver SQL via SQLAlchemy", driver_sql),
            ("DBAPI cursor", dbapi_cursor),
            ("app.rows over that cursor", driver_rows),
        ]
        print(f"{args.rounds} rounds of (select a balance, set it) on SQLite, µs per round:")
        for _ in range(2):
            for name, way in ways:
                with db.engine.begin() as connection:
                    started = time.perf_counter()
                    for i in range(args.rounds):
                        way(connection, customers[i % len(customers)], i)
                    took = time.perf_counter() - started
                print(f"  {name:26} {1e6 * took / args.rounds:8.1f}")
        db.dispose()


if __name__ == "__main__":
    main()
