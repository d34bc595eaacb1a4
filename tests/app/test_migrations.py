"""The unit database is opened by Alembic migrations, not ``create_all``.

Each test runs on SQLite and, with ``WATERTIGHT_TEST_PG_URL`` set, on PostgreSQL in a
database of its own. ``LEGACY`` is a frozen copy of the models as they were when
migrations arrived: what ``create_all`` made in every database that exists so far.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    insert,
    inspect,
    select,
    text,
)

from app.database import Database
from app.migrations import (
    BASELINE_REVISION,
    BASELINE_TABLES,
    VERSION_TABLE,
    UnrecognisedSchemaError,
    alembic_config,
    head_revision,
)
from app.models import Base
from tests.racing import at_once

# Bounds a wait that only a broken lock makes long (4 openers take < 1 s).
JOIN_TIMEOUT = 60.0

LEGACY = MetaData()
Table(
    "accounts", LEGACY,
    Column("customer_id", String(64), primary_key=True),
    Column("credit_limit_minor", BigInteger, nullable=False),
    Column("available_credit_minor", BigInteger, nullable=False),
    Column("opened_lsn", BigInteger, nullable=False),
)  # fmt: skip
Table(
    "transactions", LEGACY,
    Column("transaction_id", String(64), primary_key=True),
    Column("customer_id", String(64), nullable=False, index=True),
    Column("type", String(16), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("merchant", String(128), nullable=True),
    Column("status", String(16), nullable=False),
    Column("epoch", BigInteger, nullable=False),
    Column("lsn", BigInteger, nullable=False, unique=True),
)  # fmt: skip
Table(
    "idempotency_keys", LEGACY,
    Column("key", String(128), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("response", Text, nullable=False),
    Column("lsn", BigInteger, nullable=False),
)  # fmt: skip
Table(
    "journal", LEGACY,
    Column("lsn", BigInteger, primary_key=True, autoincrement=False),
    Column("epoch", BigInteger, nullable=False, index=True),
    Column("idempotency_key", String(128), nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("payload", Text, nullable=False),
    Column("response", Text, nullable=False),
)  # fmt: skip
Table(
    "node_state", LEGACY,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("role", String(16), nullable=False),
    Column("epoch", BigInteger, nullable=False),
    Column("primary_site", String(64), nullable=True),
    Column("standbys", Text, nullable=False),
    Column("acks_required", Integer, nullable=True),
    Column("updated_at", Float, nullable=False),
)  # fmt: skip
Table(
    "discarded_entries", LEGACY,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("lsn", BigInteger, nullable=False),
    Column("epoch", BigInteger, nullable=False),
    Column("idempotency_key", String(128), nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("payload", Text, nullable=False),
    Column("response", Text, nullable=False),
    Column("discarded_at", Float, nullable=False),
    Column("discarded_for_epoch", BigInteger, nullable=False),
    Column("reason", Text, nullable=False),
)  # fmt: skip

LEGACY_ROWS: dict[str, list[dict[str, Any]]] = {
    "accounts": [
        {"customer_id": "cust-1", "credit_limit_minor": 500_000,
         "available_credit_minor": 480_000, "opened_lsn": 1},
    ],
    "transactions": [
        {"transaction_id": "tx-1", "customer_id": "cust-1", "type": "purchase",
         "amount_minor": 20_000, "currency": "CNY", "merchant": None, "status": "posted",
         "epoch": 3, "lsn": 2},
    ],
    "idempotency_keys": [
        {"key": "k-1", "request_hash": "h" * 64, "response": '{"lsn": 2}', "lsn": 2},
    ],
    "journal": [
        {"lsn": lsn, "epoch": 3, "idempotency_key": f"k-{lsn}", "request_hash": "h" * 64,
         "payload": "{}", "response": "{}"}
        for lsn in (1, 2)
    ],
    "node_state": [
        {"id": 1, "role": "primary", "epoch": 3, "primary_site": "production",
         "standbys": '["same-city", "remote-dr"]', "acks_required": 1, "updated_at": 1.5},
    ],
    "discarded_entries": [
        {"id": 1, "lsn": 9, "epoch": 2, "idempotency_key": "k-9", "request_hash": "h" * 64,
         "payload": "{}", "response": "{}", "discarded_at": 2.5, "discarded_for_epoch": 3,
         "reason": "re-synced"},
    ],
}  # fmt: skip


@pytest.fixture
def url(new_database: Callable[[], str]) -> str:
    """An empty database of this test's own."""
    return new_database()


def opened(url: str) -> Database:
    """The unit database at ``url`` as the service opens it."""
    db = Database(url)
    db.create_schema()
    return db


def make_legacy(url: str, metadata: MetaData = LEGACY) -> None:
    """What the code before migrations left behind: create_all, then some rows."""
    engine = create_engine(url)
    try:
        metadata.create_all(engine)
        with engine.begin() as connection:
            for table in metadata.sorted_tables:
                connection.execute(insert(table), LEGACY_ROWS[table.name])
    finally:
        engine.dispose()


def rows(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    with engine.connect() as connection:
        return {
            table.name: [
                dict(row._mapping)
                for row in connection.execute(select(table).order_by(*table.primary_key))
            ]
            for table in LEGACY.sorted_tables
        }


def versions(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return list(connection.scalars(text(f"SELECT version_num FROM {VERSION_TABLE}")))


def describe(engine: Engine) -> dict[str, Any]:
    """Tables, columns, keys and indexes as the database reports them."""
    inspector = inspect(engine)
    return {
        table: {
            "columns": [
                (c["name"], str(c["type"]), c["nullable"], str(c.get("default")))
                for c in inspector.get_columns(table)
            ],
            "primary_key": inspector.get_pk_constraint(table)["constrained_columns"],
            "indexes": sorted(
                (i["name"], tuple(i["column_names"]), i["unique"])
                for i in inspector.get_indexes(table)
            ),
            "unique": sorted(
                (u["name"] or "", tuple(u["column_names"]))
                for u in inspector.get_unique_constraints(table)
            ),
        }
        for table in sorted(set(inspector.get_table_names()) - {VERSION_TABLE})
    }


def upgraded_to(url: str, revision: str) -> Engine:
    engine = create_engine(url)
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), revision)
    return engine


def test_an_empty_database_is_upgraded_to_head_and_opening_it_again_changes_nothing(
    url: str,
) -> None:
    db = opened(url)
    try:
        schema = describe(db.engine)
        assert set(schema) == set(Base.metadata.tables)
        assert versions(db.engine) == [head_revision()]
        db.create_schema()
        assert describe(db.engine) == schema
        assert versions(db.engine) == [head_revision()]
    finally:
        db.dispose()


def test_a_database_made_by_create_all_is_stamped_upgraded_and_keeps_every_row(
    url: str,
) -> None:
    make_legacy(url)
    db = opened(url)
    try:
        assert versions(db.engine) == [head_revision()]
        assert rows(db.engine) == LEGACY_ROWS
    finally:
        db.dispose()


def test_the_first_revision_creates_exactly_what_create_all_made(
    new_database: Callable[[], str],
) -> None:
    made_by_create_all = new_database()
    make_legacy(made_by_create_all)
    legacy = create_engine(made_by_create_all)
    migrated = upgraded_to(new_database(), BASELINE_REVISION)
    try:
        assert describe(migrated) == describe(legacy)
    finally:
        migrated.dispose()
        legacy.dispose()


def test_baseline_tables_list_every_column_of_the_first_revision(url: str) -> None:
    engine = upgraded_to(url, BASELINE_REVISION)
    try:
        schema = describe(engine)
    finally:
        engine.dispose()
    columns = {table: {c[0] for c in about["columns"]} for table, about in schema.items()}
    assert columns == BASELINE_TABLES


def test_the_models_match_the_migrations_at_head(url: str) -> None:
    db = opened(url)
    try:
        assert model_drift(db.engine, Base.metadata) == []
    finally:
        db.dispose()


def test_the_drift_check_notices_a_column_the_migrations_lack(url: str) -> None:
    drifted = MetaData()
    for table in Base.metadata.sorted_tables:
        table.to_metadata(drifted)
    drifted.tables["accounts"].append_column(Column("nickname", String(32), nullable=True))
    db = opened(url)
    try:
        diff = model_drift(db.engine, drifted)
    finally:
        db.dispose()
    assert [(d[0], d[2], d[3].name) for d in diff] == [("add_column", "accounts", "nickname")]


def model_drift(engine: Engine, metadata: MetaData) -> list[Any]:
    """What ``alembic revision --autogenerate`` would write: models vs the database."""
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": True,
                "compare_server_default": True,
                "version_table": VERSION_TABLE,
            },
        )
        return list(compare_metadata(context, metadata))


def test_a_database_with_unit_tables_but_not_the_baseline_is_refused_and_left_as_it_was(
    url: str,
) -> None:
    make_legacy(url)
    engine = create_engine(url)
    # node_state as made before acks_required existed (create_all never adds a column).
    with engine.begin() as connection:
        connection.execute(text("ALTER TABLE node_state DROP COLUMN acks_required"))
    before = describe(engine), rows_without_acks_required(engine)
    try:
        with pytest.raises(UnrecognisedSchemaError, match=r"node_state\.acks_required"):
            opened(url)
        assert (describe(engine), rows_without_acks_required(engine)) == before
        assert VERSION_TABLE not in inspect(engine).get_table_names()
    finally:
        engine.dispose()


def rows_without_acks_required(engine: Engine) -> list[Any]:
    with engine.connect() as connection:
        return list(connection.execute(text("SELECT * FROM node_state")))


@pytest.mark.parametrize("legacy", [False, True], ids=["empty", "made-by-create-all"])
def test_processes_opening_one_database_at_once_all_succeed_and_it_is_migrated_once(
    url: str, legacy: bool
) -> None:
    if legacy:
        make_legacy(url)

    def open_it() -> None:
        db = Database(url)
        try:
            db.create_schema()
        finally:
            db.dispose()

    # Without the lock, openers block on each other's DDL (at_once fails on a stuck one).
    errors = at_once(open_it, 4, JOIN_TIMEOUT)
    assert errors == []
    db = opened(url)
    try:
        assert versions(db.engine) == [head_revision()]
        if legacy:
            assert rows(db.engine) == LEGACY_ROWS
    finally:
        db.dispose()
