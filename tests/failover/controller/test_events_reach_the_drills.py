"""The controller's own events, fetched over its HTTP API, read by the drills' parser.

A real controller (the harness: MemoryDcs, fake unit instances) fails production over,
then a person switches one unit on; ``GET /v1/events`` of its FastAPI app is what the
drills parse. If the writer and the reader ever disagree on the schema, this fails. The
drills' approvals go to the same app, signed by as many approvers as the topology asks.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from harness import APPROVER_TOKENS, OPERATOR, World

from drills.controller import ControllerClient, merge_events, parse_events
from drills.controller_event import PROMOTED, SITE_DOWN, ControllerEvent
from drills.primaries import failovers_per_unit
from failover.controller.api import create_app
from failover.topology import Policy, default_topology

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


def test_the_drills_approve_with_as_many_different_approvers_as_the_topology_asks(
    tmp_path: Path,
) -> None:
    topology = dataclasses.replace(default_topology(), policy=Policy(distinct_approvers=2))
    world = World(tmp_path, site="remote-dr", topology=topology)
    world.cycle()
    approval = world.runtime.state.new_approval(
        unit="u00", from_site="production", to_site="remote-dr", expected_epoch=1,
        estimated_loss=2, accepted_loss=0, reason="test",
    )  # fmt: skip
    tokens = list(APPROVER_TOKENS.values())
    transport = httpx.ASGITransport(app=create_app(world.runtime))

    async def approve() -> str:
        async with httpx.AsyncClient(transport=transport) as client:
            drills = ControllerClient(["http://controller.remote-dr"], client, None, tokens)
            return await drills.approve(approval.id, {"accept_loss": 2})

    answer = json.loads(asyncio.run(approve()))
    assert answer["approval"]["status"] == "granted"
    assert answer["approval"]["approvers"] == list(APPROVER_TOKENS)


def test_a_drills_notes_reach_every_controller_and_the_drills_do_not_read_them_back(
    world: World,
) -> None:
    world.cycle()
    transport = httpx.ASGITransport(app=create_app(world.runtime))
    operator = OPERATOR["Authorization"].removeprefix("Bearer ")

    async def note_then_read() -> tuple[int, list[ControllerEvent]]:
        async with httpx.AsyncClient(transport=transport) as client:
            drills = ControllerClient(["http://controller.production"], client, operator)
            recorded = await drills.note("Production site outage", "method at 10.0 s: done")
            return recorded, await drills.events(time.time() - 60)

    recorded, read_back = asyncio.run(note_then_read())
    assert recorded == 1
    (note,) = (
        TestClient(create_app(world.runtime))
        .get("/v1/events", params={"kind": "drill_note"})
        .json()["events"]
    )
    assert note["summary"] == "drill Production site outage: method at 10.0 s: done"
    assert [e for e in read_back if e.kind == "drill-note"] == []


def test_a_drill_note_without_the_operator_credential_is_refused_and_the_drill_goes_on(
    world: World,
) -> None:
    world.cycle()
    transport = httpx.ASGITransport(app=create_app(world.runtime))

    async def note() -> int:
        async with httpx.AsyncClient(transport=transport) as client:
            drills = ControllerClient(["http://controller.production"], client)
            return await drills.note("Production site outage", "started")

    assert asyncio.run(note()) == 0  # refused (401), and no exception for the drill
    events = TestClient(create_app(world.runtime)).get("/v1/events").json()["events"]
    assert [e for e in events if e["kind"] == "drill_note"] == []
