"""Reading the controller's events as the controller writes them, and its status.

Every event here is recorded by the controller's real records store (in-memory SQLite)
and serialised by the model its API answers with (failover.events.EventPage), then sent
through JSON: the drills read the controller's output, not a shape of their own.
tests/failover/controller/test_events_reach_the_drills.py does the same through HTTP.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import httpx
import pytest

import drills.controller
from drills.controller import (
    ControllerClient,
    leader_site,
    merge_events,
    normalize_kind,
    parse_events,
    pending_approvals,
    site_verdict,
)
from drills.controller_event import ControllerEvent
from drills.primaries import failovers_per_unit
from failover.controller.records import RecordStore
from failover.events import Event, EventPage

SITES = ("production", "same-city", "remote-dr")
WALL = 1_800_000_000.0


@pytest.fixture
def store() -> Iterator[RecordStore]:
    records = RecordStore("sqlite://", "same-city")
    yield records
    records.close()


def answer(store: RecordStore, since: int = 0, limit: int = 1000) -> object:
    """What ``GET /v1/events`` answers from ``store``, decoded from its JSON."""
    found = store.events(since_id=since, limit=limit)
    page = EventPage(controller="same-city", events=found)
    return json.loads(json.dumps(page.to_wire()))


def promote(
    store: RecordStore, unit: str, site: str, epoch: int, at: float, **extra: object
) -> Event:
    """The ``promoted`` event as the executor records it after the new primary took its role."""
    return store.record(
        "promoted", f"{unit} primary in {site} at epoch {epoch}", unit=unit, site=site,
        at=WALL + at, epoch=epoch, operation_id="op-1", standbys=["remote-dr"], **extra,
    )  # fmt: skip


def test_a_failover_the_controller_records_is_read_with_its_epochs_units_and_sites(
    store: RecordStore,
) -> None:
    store.record("site_down", "quorum 2/3 saw production down", site="production", at=WALL + 10.5)
    store.record(
        "promoting", "promoting u00 in same-city at epoch 2", unit="u00", site="same-city",
        at=WALL + 11.0, epoch=2, from_site="production", data_losing=False,
    )  # fmt: skip
    promote(store, "u00", "same-city", 2, at=12.25, from_site="production")
    events = parse_events(answer(store), wall_started_at=WALL)
    assert events == [
        ControllerEvent(
            at=10.5, kind="site-down", site="production", detail="quorum 2/3 saw production down"
        ),
        ControllerEvent(
            at=11.0, kind="promoting", site="same-city", unit="u00", epoch=2,
            detail="promoting u00 in same-city at epoch 2",
        ),
        ControllerEvent(
            at=12.25, kind="promoted", site="same-city", unit="u00", epoch=2,
            detail="u00 primary in same-city at epoch 2",
        ),
    ]  # fmt: skip


def test_two_promotions_of_one_unit_at_different_epochs_both_count(store: RecordStore) -> None:
    promote(store, "u00", "same-city", 2, at=12.0)
    promote(store, "u00", "remote-dr", 3, at=40.0)
    merged = merge_events(parse_events(answer(store), wall_started_at=WALL))
    assert [(e.unit, e.site, e.epoch) for e in merged] == [
        ("u00", "same-city", 2),
        ("u00", "remote-dr", 3),
    ]
    assert failovers_per_unit([], merged) == {"u00": 2}


def test_a_promotion_a_new_leader_records_again_for_the_same_unit_and_epoch_counts_once(
    store: RecordStore,
) -> None:
    other = RecordStore("sqlite://", "remote-dr")
    promote(store, "u00", "same-city", 2, at=12.0)
    promote(other, "u00", "same-city", 2, at=15.0, completed_after_crash=True)
    promote(other, "u02", "same-city", 2, at=15.5, completed_after_crash=True)
    merged = merge_events(
        parse_events(answer(store), wall_started_at=WALL),
        parse_events(answer(other), wall_started_at=WALL),
    )
    other.close()
    assert [(e.at, e.unit, e.epoch) for e in merged] == [(12.0, "u00", 2), (15.5, "u02", 2)]


def test_controllers_sharing_one_records_store_list_each_event_once(store: RecordStore) -> None:
    store.record("site_down", "quorum 2/3 saw production down", site="production", at=WALL + 1)
    promote(store, "u00", "same-city", 2, at=2.0)
    page = parse_events(answer(store), wall_started_at=WALL)
    assert merge_events(page, page, page) == page


def test_the_controllers_kinds_become_the_drills_spelling() -> None:
    assert normalize_kind("site_down") == "site-down"
    assert normalize_kind("promoted") == "promoted"
    assert normalize_kind("approval_requested") == "approval-requested"


@pytest.mark.parametrize(
    "drifted",
    [
        # the shape the drills once assumed: epoch at the top, no summary, no id
        [{"kind": "promoted", "at": WALL + 1, "unit": "u00", "site": "same-city", "epoch": 2}],
        {"events": [{"kind": "promoted", "at": WALL + 1, "unit": "u00", "epoch": 2}]},
        {"unexpected": True},
    ],
)
def test_an_answer_that_is_not_the_controllers_schema_is_refused(drifted: object) -> None:
    with pytest.raises(ValueError):
        parse_events(drifted, wall_started_at=WALL)


def test_an_epoch_the_schema_cannot_read_is_refused_before_it_is_stored(
    store: RecordStore,
) -> None:
    with pytest.raises(ValueError, match="epoch"):
        store.record("promoted", "u00 primary in same-city", unit="u00", epoch="2")
    assert store.events() == []


def test_the_client_reads_every_page_of_every_controller_and_merges_them(
    store: RecordStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(drills.controller, "PAGE", 2)
    for n, unit in enumerate(["u00", "u02", "u04", "u06", "u00"]):
        promote(store, unit, "same-city", 2 + (n == 4), at=10.0 + n)

    def serve(request: httpx.Request) -> httpx.Response:
        if request.url.host == "down.example":
            return httpx.Response(503)
        since, limit = int(request.url.params["since"]), int(request.url.params["limit"])
        return httpx.Response(200, json=answer(store, since, limit))

    async def read() -> list[ControllerEvent]:
        async with httpx.AsyncClient(transport=httpx.MockTransport(serve)) as client:
            urls = ["http://same-city.example", "http://down.example"]
            return await ControllerClient(urls, client).events(WALL)

    events = asyncio.run(read())
    assert [(e.unit, e.epoch) for e in events] == [
        ("u00", 2), ("u02", 2), ("u04", 2), ("u06", 2), ("u00", 3),
    ]  # fmt: skip


def test_the_leader_site_is_found_in_the_shapes_a_status_may_take() -> None:
    assert leader_site({"leader": "same-city"}, SITES) == "same-city"
    assert leader_site({"leader": {"site": "remote-dr", "id": "c-2"}}, SITES) == "remote-dr"
    assert leader_site({"leader": "controller-production-1"}, SITES) == "production"
    assert leader_site({"leader": None}, SITES) is None


def test_site_verdicts_and_pending_approvals_are_read_from_the_status() -> None:
    status = {
        "sites": {"production": {"verdict": "DOWN"}, "same-city": "up"},
        "pending_approvals": [{"id": "a1", "unit": "u00"}, {"id": "a2", "state": "approved"}],
    }
    assert site_verdict(status, "production") == "down"
    assert site_verdict(status, "same-city") == "up"
    assert site_verdict(status, "remote-dr") is None
    assert [p["id"] for p in pending_approvals(status)] == ["a1"]
    listed = {"sites": [{"name": "remote-dr", "state": "up"}]}
    assert site_verdict(listed, "remote-dr") == "up"


def test_the_controller_that_answered_last_is_asked_first_so_a_dead_one_costs_one_wait() -> None:
    asked: list[str] = []

    def serve(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.host)
        if request.url.host == "dead.example":
            raise httpx.ConnectTimeout("a downed data center's address", request=request)
        return httpx.Response(200, json={"ok": True})

    async def three_moves() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(serve)) as client:
            controllers = ControllerClient(["http://dead.example", "http://dr.example"], client)
            for _ in range(3):
                assert "ok" in await controllers.post("/v1/failover", {"site": "production"})

    asyncio.run(three_moves())
    assert asked == ["dead.example", "dr.example", "dr.example", "dr.example"]
