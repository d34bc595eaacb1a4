"""``/v1/unit``'s journal position: served from memory while no write has ended, and
exactly what the database holds after every kind of journal change (a write, a discarded
tail, an applied entry). The promotion choice compares these positions, so a stale one
could promote the copy that lacks an acknowledged write."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from test_receiver import CUSTOMER, entry, handshake, ship
from unit_app_helpers import customer_of, promote_alone, purchase, settings_for, unit_client

from app import journal
from app.database import Database
from app.protocol import WireEntry
from app.queries import Queries


def database_position(tmp_path: Path) -> tuple[int, int]:
    """The last journal entry's (lsn, epoch), read straight from the SQLite file."""
    settings = settings_for(tmp_path)
    path = settings.resolved_database_url().removeprefix("sqlite:///")
    with sqlite3.connect(path) as connection:
        row = connection.execute(
            "SELECT lsn, epoch FROM journal ORDER BY lsn DESC LIMIT 1"
        ).fetchone()
    return (0, 0) if row is None else (int(row[0]), int(row[1]))


def probed(client: TestClient) -> tuple[int, int]:
    body = client.get("/v1/unit").json()
    return body["last_lsn"], body["last_entry_epoch"]


def write(client: TestClient, key: str, amount: int = 100) -> None:
    url = f"/v1/customers/{CUSTOMER}/transactions"
    response = client.post(url, json=purchase(amount), headers={"Idempotency-Key": key})
    assert response.status_code == 201, response.text


def test_the_probed_position_follows_writes_discards_and_applied_entries(
    tmp_path: Path,
) -> None:
    with unit_client(settings_for(tmp_path)) as unit:
        promote_alone(unit, epoch=1)
        assert probed(unit) == (0, 0) == database_position(tmp_path)
        write(unit, "a")
        assert probed(unit) == probed(unit) == (1, 1) == database_position(tmp_path)
        write(unit, "b")
        assert probed(unit) == (2, 1) == database_position(tmp_path)

        # A new primary at epoch 2 kept lsn 1 only: lsn 2 is discarded here.
        assert handshake(unit, 2, [(1, 1, 1)], 1).json()["discarded"] == 1
        assert probed(unit) == (1, 1) == database_position(tmp_path)

        assert (
            ship(unit, 2, [entry(2, epoch=2, available_after=9_500, delta=500)]).json()[
                "applied_lsn"
            ]
            == 2
        )
        assert probed(unit) == (2, 2) == database_position(tmp_path)


def test_a_refused_write_leaves_the_probed_position_exact(tmp_path: Path) -> None:
    other_units_customer = customer_of("u01")
    with unit_client(settings_for(tmp_path)) as unit:
        promote_alone(unit, epoch=1)
        write(unit, "a")
        assert probed(unit) == (1, 1)
        url = f"/v1/customers/{other_units_customer}/transactions"
        refused = unit.post(url, json=purchase(), headers={"Idempotency-Key": "b"})
        assert refused.status_code == 421
        assert probed(unit) == (1, 1) == database_position(tmp_path)


def test_a_write_that_ends_while_the_position_is_read_is_not_hidden_by_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_for(tmp_path)
    db = Database(settings.resolved_database_url())
    db.create_schema()
    queries = Queries(node=None, db=db, credit_limit_minor=10_000)  # type: ignore[arg-type]
    read_before_the_write = journal.last_position

    def read_then_a_write_ends(session: object) -> tuple[int, int]:
        position = read_before_the_write(session)  # type: ignore[arg-type]
        with db.write() as writer:
            journal.apply_entry(writer, WireEntry.model_validate(entry(1)))
        return position

    monkeypatch.setattr(journal, "last_position", read_then_a_write_ends)
    assert queries.journal_position() == (0, 0)
    monkeypatch.setattr(journal, "last_position", read_before_the_write)
    assert queries.cached_position() is None
    assert queries.journal_position() == (1, 1)
    assert queries.cached_position() == (1, 1)
    db.dispose()
