"""The standby side of replication, in-process: handshake, in-order apply, gaps, stale
epochs, and a diverged former primary discarding its tail."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from unit_app_helpers import AUTH, customer_of, promote_alone, purchase, settings_for, unit_client

CUSTOMER = customer_of("u00")
PRIMARY = "same-city"


def entry(
    lsn: int, epoch: int = 1, available_after: int = 10_000, delta: int = 0
) -> dict[str, Any]:
    tid = f"t{epoch}-{lsn}"
    return {
        "lsn": lsn,
        "epoch": epoch,
        "idempotency_key": f"key-{epoch}-{lsn}",
        "request_hash": "0" * 64,
        "payload": {
            "customer_id": CUSTOMER,
            "transaction_id": tid,
            "type": "payment",
            "amount_minor": max(delta, 1),
            "currency": "CNY",
            "merchant": None,
            "status": "approved",
            "delta_minor": delta,
            "credit_limit_minor": 10_000,
            "available_after_minor": available_after,
        },
        "response": {
            "transaction_id": tid,
            "customer_id": CUSTOMER,
            "unit": "u00",
            "site": PRIMARY,
            "epoch": epoch,
            "lsn": lsn,
            "status": "approved",
            "available_credit_minor": available_after,
        },
    }


def handshake(client: TestClient, epoch: int, ranges: list[tuple[int, int, int]], last: int):
    body = {
        "epoch": epoch,
        "primary_site": PRIMARY,
        "last_lsn": last,
        "epoch_ranges": [
            {"epoch": e, "first_lsn": first, "last_lsn": last_} for e, first, last_ in ranges
        ],
    }
    return client.post("/replication/handshake", json=body, headers=AUTH)


def ship(client: TestClient, epoch: int, entries: list[dict[str, Any]]):
    body = {"epoch": epoch, "primary_site": PRIMARY, "entries": entries}
    return client.post("/replication/entries", json=body, headers=AUTH)


def test_entries_before_a_handshake_are_refused(standby: TestClient) -> None:
    response = ship(standby, 1, [entry(1)])
    assert (response.status_code, response.json()["error"]) == (409, "handshake_required")
    assert standby.get("/v1/unit").json()["last_lsn"] == 0


def test_entries_apply_in_order_and_duplicates_are_skipped(standby: TestClient) -> None:
    assert handshake(standby, 1, [], 0).json()["applied_lsn"] == 0
    first = ship(standby, 1, [entry(1), entry(2)])
    again = ship(standby, 1, [entry(1), entry(2), entry(3)])
    assert first.json() == {"status": "applied", "applied_lsn": 2, "epoch": 1}
    assert again.json() == {"status": "applied", "applied_lsn": 3, "epoch": 1}
    assert standby.get("/replication/digest", headers=AUTH).json()["transactions"] == 3


def test_a_gap_is_reported_with_the_applied_lsn_so_the_primary_resends(standby: TestClient) -> None:
    handshake(standby, 1, [], 0)
    ship(standby, 1, [entry(1)])
    response = ship(standby, 1, [entry(3), entry(4)])
    assert response.json() == {"status": "gap", "applied_lsn": 1, "epoch": 1}


def test_a_heartbeat_answers_the_applied_lsn_without_a_write_transaction(
    standby: TestClient,
) -> None:
    db = standby.app.state.service.db  # type: ignore[attr-defined]
    handshake(standby, 1, [], 0)
    ship(standby, 1, [entry(1), entry(2)])
    writes = db.writes_finished
    beat = ship(standby, 1, [])
    assert beat.json() == {"status": "applied", "applied_lsn": 2, "epoch": 1}
    assert db.writes_finished == writes


def test_a_heartbeat_to_an_instance_promoted_since_is_refused(standby: TestClient) -> None:
    handshake(standby, 1, [], 0)
    promote_alone(standby, epoch=2)
    response = ship(standby, 1, [])
    assert (response.status_code, response.json()["error"]) == (409, "handshake_required")


def test_a_primary_with_an_older_epoch_is_refused(standby: TestClient) -> None:
    handshake(standby, 3, [], 0)
    response = handshake(standby, 2, [], 0)
    assert (response.status_code, response.json()["error"], response.json()["epoch"]) == (
        409,
        "stale_epoch",
        3,
    )
    stale_ship = ship(standby, 2, [entry(1, epoch=2)])
    assert stale_ship.json()["error"] == "stale_epoch"


def test_a_former_primary_discards_what_the_new_primary_lacks_and_records_it(
    tmp_path: Path,
) -> None:
    with unit_client(settings_for(tmp_path)) as old:
        promote_alone(old, epoch=1)
        headers = {"Idempotency-Key": "a"}
        url = f"/v1/customers/{CUSTOMER}/transactions"
        assert old.post(url, json=purchase(1_000), headers=headers).status_code == 201
        headers = {"Idempotency-Key": "b"}
        assert old.post(url, json=purchase(2_000), headers=headers).status_code == 201
        assert (
            old.get(f"/v1/customers/{CUSTOMER}/account").json()["available_credit_minor"] == 7_000
        )

        # The new primary (epoch 2) kept lsn 1 only; the handshake makes us follow it.
        result = handshake(old, 2, [(1, 1, 1)], 1)
        assert result.json() == {"applied_lsn": 1, "epoch": 2, "discarded": 1}
        unit = old.get("/v1/unit").json()
        assert (unit["role"], unit["epoch"], unit["primary_site"]) == ("standby", 2, PRIMARY)
        assert (
            old.get(f"/v1/customers/{CUSTOMER}/account").json()["available_credit_minor"] == 9_000
        )

        discarded = old.get("/admin/discarded-entries", headers=AUTH).json()
        assert discarded["count"] == 1
        gone = discarded["entries"][0]
        assert (gone["lsn"], gone["epoch"], gone["idempotency_key"]) == (2, 1, "b")
        assert gone["discarded_for_epoch"] == 2
        assert gone["response"]["available_credit_minor"] == 7_000

        applied = ship(old, 2, [entry(2, epoch=2, available_after=9_500, delta=500)])
        assert applied.json()["applied_lsn"] == 2
        assert (
            old.get(f"/v1/customers/{CUSTOMER}/account").json()["available_credit_minor"] == 9_500
        )


def test_an_account_opened_by_a_discarded_entry_disappears(tmp_path: Path) -> None:
    with unit_client(settings_for(tmp_path)) as old:
        promote_alone(old, epoch=1)
        url = f"/v1/customers/{CUSTOMER}/transactions"
        old.post(url, json=purchase(1_000), headers={"Idempotency-Key": "only"})
        assert handshake(old, 2, [], 0).json()["discarded"] == 1
        account = old.get(f"/v1/customers/{CUSTOMER}/account").json()
        assert (account["opened"], account["available_credit_minor"]) == (False, 10_000)
        assert old.get("/replication/digest", headers=AUTH).json()["transactions"] == 0
