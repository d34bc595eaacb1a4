"""Three real unit processes for one unit (a primary and its two standbys) on loopback,
on SQLite files and on PostgreSQL (docs/design.md §2, §3 invariants 1–3)."""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from unit_trio_helpers import (
    AUTH,
    PLACEMENT,
    Trio,
    customers,
    digest,
    purchase,
    running_trio,
    set_role,
    standbys_caught_up,
    unit_status,
    wait_until,
    write,
)

pytestmark = pytest.mark.integration

WRITES = 1_000
IN_FLIGHT = 16
CUSTOMERS = customers(40)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def trio(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Trio]:
    with running_trio(tmp_path, request.param) as running:
        yield running


async def _drive(
    url: str, plan: list[tuple[str, str, dict[str, Any]]]
) -> list[tuple[str, int, dict[str, Any]]]:
    limits = httpx.Limits(max_connections=IN_FLIGHT)
    semaphore = asyncio.Semaphore(IN_FLIGHT)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:

        async def one(
            customer: str, key: str, body: dict[str, Any]
        ) -> tuple[str, int, dict[str, Any]]:
            async with semaphore:
                response = await client.post(
                    f"/v1/customers/{customer}/transactions",
                    json=body,
                    headers={"Idempotency-Key": key},
                )
                return key, response.status_code, response.json()

        return await asyncio.gather(*(one(*item) for item in plan))


def test_a_thousand_concurrent_writes_with_replays_post_once_and_standbys_match(
    trio: Trio,
) -> None:
    rng = random.Random(7)
    originals = [
        (rng.choice(CUSTOMERS), f"w-{i}", purchase(rng.randint(1, 20_000))) for i in range(WRITES)
    ]
    replays = [rng.choice(originals) for _ in range(WRITES // 4)]
    plan = originals + replays
    rng.shuffle(plan)

    results = asyncio.run(_drive(trio.primary.url, plan))

    by_key: dict[str, list[tuple[int, dict[str, Any]]]] = defaultdict(list)
    for key, status, body in results:
        by_key[key].append((status, body))
    assert {status for _key, status, _body in results} <= {200, 201}, results[:3]
    for key, answers in by_key.items():
        assert [s for s, _ in answers].count(201) == 1, (key, answers)
        assert len({str(b) for _, b in answers}) == 1, (key, answers)
    lsns = sorted(answers[0][1]["lsn"] for answers in by_key.values())
    assert lsns == list(range(1, WRITES + 1))  # gap-free and each key once

    wait_until(lambda: standbys_caught_up(trio.primary), what="standbys to catch up")
    primary = digest(trio.primary)
    assert primary["transactions"] == WRITES
    assert digest(trio.city) == primary
    assert digest(trio.remote) == primary


def test_with_one_standby_down_writes_go_on_acknowledged_by_the_other(trio: Trio) -> None:
    customer = CUSTOMERS[0]
    for standby in (trio.city, trio.remote):
        standby.kill()
        response = write(trio.primary, customer, f"without-{standby.spec.site}", purchase(10))
        assert response.status_code == 201, response.text
        trio.restart(standby.spec.site)
        wait_until(lambda: standbys_caught_up(trio.primary), what="both standbys back")
    assert digest(trio.city) == digest(trio.remote) == digest(trio.primary)


def test_with_both_standbys_down_writes_are_503_and_after_one_returns_they_post_once(
    trio: Trio,
) -> None:
    customer = CUSTOMERS[0]
    assert write(trio.primary, customer, "before", purchase(10)).status_code == 201

    trio.city.kill()
    trio.remote.kill()
    refused = [write(trio.primary, customer, f"during-{i}", purchase(10)) for i in range(3)]
    assert [r.status_code for r in refused] == [503, 503, 503]
    assert all(r.headers.get("Retry-After") for r in refused)
    assert all(r.json()["error"] == "quorum_not_reached" for r in refused)

    trio.restart(PLACEMENT.remote_standby)
    wait_until(
        lambda: standbys_caught_up(trio.primary, (PLACEMENT.remote_standby,)),
        what="the remote standby to catch up",
    )
    retried = [write(trio.primary, customer, f"during-{i}", purchase(10)) for i in range(3)]
    assert all(r.status_code in (200, 201) for r in retried), [r.text for r in retried]
    after = write(trio.primary, customer, "after", purchase(10))
    assert after.status_code == 201

    # Every key posted exactly once: 5 keys, 5 transactions, 50 of credit taken.
    state = digest(trio.primary)
    assert state["transactions"] == 5
    account = httpx.get(f"{trio.primary.url}/v1/customers/{customer}/account").json()
    assert account["credit_limit_minor"] - account["available_credit_minor"] == 50
    assert digest(trio.remote) == state


def test_a_city_standby_behind_the_remote_one_catches_up_before_promotion_losing_nothing(
    trio: Trio,
) -> None:
    """Invariant 2 under quorum commit: writes acknowledged by the remote standby alone
    (the city standby was down) survive the primary's loss through the catch-up."""
    customer = CUSTOMERS[3]
    trio.city.kill()
    acknowledged = {}
    for i in range(20):
        response = write(trio.primary, customer, f"remote-only-{i}", purchase(50))
        assert response.status_code == 201, response.text
        acknowledged[f"remote-only-{i}"] = response.json()
    trio.primary.kill()
    city = trio.restart(PLACEMENT.city_standby)
    assert unit_status(city)["last_lsn"] == 0 < unit_status(trio.remote)["last_lsn"]

    caught = httpx.post(
        f"{city.url}/admin/catch-up",
        json={"source_site": PLACEMENT.remote_standby, "epoch": 1},
        headers=AUTH,
        timeout=30,
    )
    assert caught.status_code == 200, caught.text
    assert (caught.json()["last_lsn"], caught.json()["fetched"]) == (20, 20)
    promoted = set_role(city, role="primary", epoch=2, standbys=[PLACEMENT.remote_standby])
    assert promoted.status_code == 200, promoted.text
    for key, original in acknowledged.items():
        replay = write(city, customer, key, purchase(50))
        assert (replay.status_code, replay.json()) == (200, original)
    fresh = write(city, customer, "after-failover", purchase(5))
    assert (fresh.status_code, fresh.json()["lsn"], fresh.json()["epoch"]) == (201, 21, 2)


def test_catching_up_from_a_copy_that_ranks_below_refuses_and_discards_nothing(
    trio: Trio,
) -> None:
    customer = CUSTOMERS[4]
    trio.city.kill()
    assert write(trio.primary, customer, "remote-has-it", purchase(5)).status_code == 201
    trio.primary.kill()
    trio.restart(PLACEMENT.city_standby)
    refused = httpx.post(
        f"{trio.remote.url}/admin/catch-up",
        json={"source_site": PLACEMENT.city_standby, "epoch": 1},
        headers=AUTH,
        timeout=30,
    )
    assert (refused.status_code, refused.json()["error"]) == (409, "role_conflict")
    assert digest(trio.remote)["transactions"] == 1


def test_a_promoted_standby_serves_writes_and_the_old_primary_resyncs_discarding_its_tail(
    trio: Trio,
) -> None:
    old = trio.primary
    customer = CUSTOMERS[1]
    acknowledged = {}
    for i in range(10):
        response = write(old, customer, f"ack-{i}", purchase(100))
        assert response.status_code == 201
        acknowledged[f"ack-{i}"] = response.json()
    wait_until(lambda: standbys_caught_up(old), what="standbys to catch up")

    # Both standbys die; the primary commits one more entry locally but answers 503.
    trio.city.kill()
    trio.remote.kill()
    lost = write(old, customer, "never-acknowledged", purchase(7))
    assert lost.status_code == 503
    assert unit_status(old)["last_lsn"] == 11

    # The controller's moves: fence the old primary at the new epoch, promote the standby.
    demoted = set_role(old, role="standby", epoch=2, primary_site=PLACEMENT.city_standby)
    assert demoted.status_code == 200, demoted.text
    new = trio.restart(PLACEMENT.city_standby)
    trio.restart(PLACEMENT.remote_standby)
    promoted = set_role(
        new,
        role="primary",
        epoch=2,
        standbys=[PLACEMENT.primary, PLACEMENT.remote_standby],
    )
    assert promoted.status_code == 200, promoted.text
    assert set_role(old, role="primary", epoch=2).status_code == 409  # epoch 2 is taken

    wait_until(lambda: standbys_caught_up(new), what="re-sync from the new primary")
    discarded = httpx.get(f"{old.url}/admin/discarded-entries", headers=AUTH).json()
    assert [e["idempotency_key"] for e in discarded["entries"]] == ["never-acknowledged"]
    assert discarded["entries"][0]["discarded_for_epoch"] == 2

    # The old primary refuses writes; the new one serves them and replays old keys.
    refused = write(old, customer, "to-the-old-one", purchase(1))
    assert (refused.status_code, refused.json()["error"]) == (503, "not_writable")
    replay = write(new, customer, "ack-3", purchase(100))
    assert (replay.status_code, replay.json()) == (200, acknowledged["ack-3"])
    fresh = write(new, customer, "after-failover", purchase(5))
    assert fresh.status_code == 201
    assert (fresh.json()["epoch"], fresh.json()["lsn"], fresh.json()["site"]) == (
        2,
        11,
        PLACEMENT.city_standby,
    )
    retried = write(new, customer, "never-acknowledged", purchase(7))
    assert retried.status_code == 201  # it was never acknowledged: posted now, once

    wait_until(lambda: standbys_caught_up(new), what="standbys to follow the new primary")
    state = digest(new)
    assert state["transactions"] == 12
    assert digest(old) == state
    assert digest(trio.remote) == state
    account = httpx.get(f"{new.url}/v1/customers/{customer}/account").json()
    assert account["credit_limit_minor"] - account["available_credit_minor"] == 1_000 + 5 + 7


@pytest.mark.parametrize("trio", ["sqlite"], indirect=True)
def test_an_old_primary_that_was_not_told_learns_the_new_epoch_and_stops_writing(
    trio: Trio,
) -> None:
    old, new = trio.primary, trio.city
    customer = CUSTOMERS[2]
    assert write(old, customer, "first", purchase(10)).status_code == 201

    promoted = set_role(new, role="primary", epoch=2, standbys=[PLACEMENT.primary])
    assert promoted.status_code == 200, promoted.text

    # The new primary's handshake tells the old one; nobody calls /admin/role on it.
    wait_until(lambda: unit_status(old)["epoch"] == 2, what="the old primary to see epoch 2")
    status = unit_status(old)
    assert (status["role"], status["primary_site"]) == ("standby", PLACEMENT.city_standby)
    refused = write(old, customer, "second", purchase(10))
    assert (refused.status_code, refused.json()["error"]) == (503, "not_writable")
    assert write(new, customer, "second", purchase(10)).status_code == 201
    wait_until(lambda: standbys_caught_up(new), what="the old primary to follow")
    assert digest(old) == digest(new)
