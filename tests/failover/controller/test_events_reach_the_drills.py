"""The controller's own events, fetched over its HTTP API, read by the drills' parser.

A real controller (the harness: MemoryDcs, fake unit instances) fails production over,
then a person switches one unit on; ``GET /v1/events`` of its FastAPI app is what the
drills parse. If the writer and the reader ever disagree on the schema, this fails.
"""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from harness import OPERATOR, World

from drills.controller import merge_events, parse_events
from drills.measure import PROMOTED, SITE_DOWN, ControllerEvent, failovers_per_unit
from failover.controller.api import create_app

AUTH = OPERATOR
EVEN = ["u00", "u02", "u04", "u06"]


@pytest.fixture
def after_failover_and_switchover(world: World) -> list[ControllerEvent]:
    # The records store stamps events with the real wall clock, as a drill's clock is.
    started = time.time()
    world.cycle()
    world.units.down.add("production")
    world.drop_leases_in("production")
    for _ in range(4):
        world.cycle()
    client = TestClient(create_app(world.runtime))
    moved = client.post("/v1/switchover", json={"unit": "u00", "to": "remote-dr"}, headers=AUTH)
    assert moved.status_code == 200, moved.text
    answer = client.get("/v1/events")
    assert answer.status_code == 200
    return merge_events(parse_events(answer.json(), wall_started_at=started))


def test_every_promotion_the_controller_made_is_read_with_its_unit_site_and_epoch(
    after_failover_and_switchover: list[ControllerEvent],
) -> None:
    promoted = [
        (e.unit, e.site, e.epoch) for e in after_failover_and_switchover if e.kind == PROMOTED
    ]
    assert sorted(promoted) == [
        ("u00", "remote-dr", 3),
        ("u00", "same-city", 2),
        ("u02", "same-city", 2),
        ("u04", "same-city", 2),
        ("u06", "same-city", 2),
    ]
    assert failovers_per_unit([], after_failover_and_switchover) == {
        "u00": 2, "u02": 1, "u04": 1, "u06": 1,
    }  # fmt: skip


def test_the_site_declared_down_is_read_before_the_promotions_it_caused(
    after_failover_and_switchover: list[ControllerEvent],
) -> None:
    events = after_failover_and_switchover
    down = [e for e in events if e.kind == SITE_DOWN]
    assert [e.site for e in down] == ["production"]
    first_promotion = min(e.at for e in events if e.kind == PROMOTED)
    assert 0 <= down[0].at <= first_promotion
    assert all(e.detail for e in events)
