"""The records store is opened by Alembic migrations, not ``create_all``.

Each test runs on SQLite and, with ``WATERTIGHT_TEST_PG_URL`` set, on PostgreSQL in a
database of its own. ``LEGACY`` is a frozen copy of the events table as it was when
migrations arrived: what ``create_all`` made in every records store that exists so far.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import (
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
    text,
)

from failover.controller.migrations import (
    BASELINE_REVISION,
    BASELINE_TABLES,
    VERSION_TABLE,
    UnrecognisedSchemaError,
    alembic_config,
    head_revision,
    include_name,
)
from failover.controller.records import Base, RecordStore
from tests.empty_databases import KINDS, empty_databases
from tests.racing import at_once

# Bounds a wait that only a broken lock makes long (4 openers take < 1 s).
JOIN_TIMEOUT = 60.0

LEGACY = MetaData()
LEGACY_EVENTS = Table(
    "controller_events", LEGACY,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False, index=True),
    Column("controller", String(64), nullable=False),
    Column("kind", String(64), nullable=False, index=True),
    Column("unit", String(64), nullable=True),
    Column("site", String(64), nullable=True),
    Column("summary", Text, nullable=False),
    Column("data", Text, nullable=False),
)  # fmt: skip
LEGACY_ROWS = [
    {"at": 10.0, "controller": "remote-dr", "kind": "site_verdict", "unit": None,
     "site": "production", "summary": "production is down", "data": '{"verdict": "down"}'},
    {"at": 11.0, "controller": "remote-dr", "kind": "promoted", "unit": "u00",
     "site": "same-city", "summary": "u00 promoted in same-city", "data": '{"epoch": 4}'},
]  # fmt: skip


@pytest.fixture(params=KINDS)
def new_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], str]]:
    """Makes empty databases of this test's own (on PostgreSQL dropped at the end)."""
    with empty_databases(request.param, tmp_path, "records_migrations") as make:
        yield make


@pytest.fixture
def url(new_database: Callable[[], str]) -> str:
    """An empty database of this test's own."""
    return new_database()


@pytest.fixture
def engine(url: str) -> Iterator[Engine]:
    """A plain engine on ``url``, to look at the database from outside the store."""
    engine = create_engine(url)
    yield engine
    engine.dispose()


def make_legacy(engine: Engine) -> None:
    """What the code before migrations left behind: create_all, then some events."""
    LEGACY.create_all(engine)
    with engine.begin() as connection:
        connection.execute(insert(LEGACY_EVENTS), LEGACY_ROWS)


def versions(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return list(connection.scalars(text(f"SELECT version_num FROM {VERSION_TABLE}")))


def describe(engine: Engine) -> dict[str, Any]:
    """The store's tables, columns, keys and indexes as the database reports them."""
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
        }
        for table in sorted(inspector.get_table_names())
        if table.startswith("controller_") and table != VERSION_TABLE
    }


def model_drift(engine: Engine, metadata: MetaData) -> list[Any]:
    """What autogenerate would write for the store: its models vs the database."""
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": True,
                "compare_server_default": True,
                "version_table": VERSION_TABLE,
                "include_name": include_name,
            },
        )
        return list(compare_metadata(context, metadata))


def open_store(url: str) -> None:
    RecordStore(url, "remote-dr").close()


def test_an_empty_store_is_upgraded_to_head_and_opening_it_again_changes_nothing(
    url: str, engine: Engine
) -> None:
    open_store(url)
    schema = describe(engine)
    assert set(schema) == set(Base.metadata.tables)
    assert versions(engine) == [head_revision()]
    open_store(url)
    assert describe(engine) == schema
    assert versions(engine) == [head_revision()]


def test_a_store_made_by_create_all_is_stamped_upgraded_and_keeps_every_event(
    url: str, engine: Engine
) -> None:
    make_legacy(engine)
    store = RecordStore(url, "same-city")
    try:
        later = store.record("freeze", "frozen by an operator")
        events = store.events()
    finally:
        store.close()
    assert versions(engine) == [head_revision()]
    kept = [{k: getattr(e, k) for k in ("at", "kind", "unit", "summary")} for e in events[:2]]
    assert kept == [{k: row[k] for k in ("at", "kind", "unit", "summary")} for row in LEGACY_ROWS]
    assert [e.data for e in events[:2]] == [{"verdict": "down"}, {"epoch": 4}]
    assert events[2:] == [later]
    assert later.id > events[1].id


def test_the_first_revision_creates_exactly_what_create_all_made(
    new_database: Callable[[], str],
) -> None:
    legacy, migrated = create_engine(new_database()), create_engine(new_database())
    try:
        make_legacy(legacy)
        with migrated.begin() as connection:
            command.upgrade(alembic_config(connection), BASELINE_REVISION)
        assert describe(migrated) == describe(legacy)
    finally:
        legacy.dispose()
        migrated.dispose()


def test_baseline_tables_list_every_column_of_the_first_revision(engine: Engine) -> None:
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), BASELINE_REVISION)
    columns = {table: {c[0] for c in about["columns"]} for table, about in describe(engine).items()}
    assert columns == BASELINE_TABLES


def test_the_models_match_the_migrations_at_head(url: str, engine: Engine) -> None:
    open_store(url)
    assert model_drift(engine, Base.metadata) == []


def test_the_drift_check_notices_a_column_the_migrations_lack(url: str, engine: Engine) -> None:
    drifted = MetaData()
    events = Base.metadata.tables["controller_events"].to_metadata(drifted)
    events.append_column(Column("operation", String(64), nullable=True))
    open_store(url)
    diff = model_drift(engine, drifted)
    assert [(d[0], d[2], d[3].name) for d in diff] == [
        ("add_column", "controller_events", "operation")
    ]


def test_a_shared_database_keeps_other_tables_and_their_alembic_history(
    url: str, engine: Engine
) -> None:
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32))"))
        connection.execute(text("INSERT INTO alembic_version VALUES ('someone-elses')"))
        connection.execute(text("CREATE TABLE invoices (id INTEGER PRIMARY KEY)"))
    open_store(url)
    with engine.connect() as connection:
        assert list(connection.scalars(text("SELECT * FROM alembic_version"))) == ["someone-elses"]
        assert list(connection.scalars(text("SELECT count(*) FROM invoices"))) == [0]
    assert versions(engine) == [head_revision()]
    assert model_drift(engine, Base.metadata) == []


def test_a_store_with_an_events_table_but_not_the_baseline_is_refused_and_left_as_it_was(
    url: str, engine: Engine
) -> None:
    make_legacy(engine)
    with engine.begin() as connection:
        connection.execute(text("ALTER TABLE controller_events DROP COLUMN data"))
    before = describe(engine)
    with pytest.raises(UnrecognisedSchemaError, match=r"controller_events\.data"):
        open_store(url)
    assert describe(engine) == before
    assert VERSION_TABLE not in inspect(engine).get_table_names()
    with engine.connect() as connection:
        assert list(connection.scalars(text("SELECT count(*) FROM controller_events"))) == [2]


@pytest.mark.parametrize("legacy", [False, True], ids=["empty", "made-by-create-all"])
def test_controllers_opening_one_store_at_once_all_succeed_and_it_is_migrated_once(
    url: str, engine: Engine, legacy: bool
) -> None:
    if legacy:
        make_legacy(engine)
    # Without the lock, openers block on each other's DDL (at_once fails on a stuck one).
    errors = at_once(lambda: open_store(url), 4, JOIN_TIMEOUT)
    assert errors == []
    assert versions(engine) == [head_revision()]
    with engine.connect() as connection:
        count = connection.scalar(text("SELECT count(*) FROM controller_events"))
    assert count == (len(LEGACY_ROWS) if legacy else 0)
