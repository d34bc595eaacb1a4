"""The controller API: tokens, bad input, and that a refused request changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from harness import ALICE, OPERATOR, World, auth_for

from failover.controller.api import create_app

AUTH = OPERATOR


@pytest.fixture
def client(world: World) -> TestClient:
    world.cycle()
    world.cycle()
    return TestClient(create_app(world.runtime))


def routes(world: World) -> list[tuple[str, int]]:
    return [world.route(u) for u in world.topology.units]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/switchover", {"unit": "u00", "to": "same-city"}),
        ("/v1/failover", {"unit": "u00", "to": "same-city"}),
        ("/v1/failback", {"site": "production"}),
        ("/v1/approvals/a-1", {}),
        ("/v1/freeze", {}),
        ("/v1/unfreeze", {}),
    ],
)
def test_every_mutating_endpoint_refuses_a_missing_or_wrong_token(
    client: TestClient, world: World, path: str, body: dict[str, object]
) -> None:
    before = routes(world)
    missing = client.post(path, json=body)
    wrong = client.post(path, json=body, headers={"Authorization": "Bearer nope"})
    assert (missing.status_code, missing.json()["error"]) == (401, "unauthorized")
    assert (wrong.status_code, wrong.json()["error"]) == (403, "forbidden")
    assert routes(world) == before
    assert world.runtime.state.frozen() is None


@pytest.mark.parametrize(
    ("path", "body", "status", "words"),
    [
        ("/v1/switchover", {"unit": "u99", "to": "same-city"}, 404, "unknown unit 'u99'"),
        ("/v1/switchover", {"unit": "u00", "to": "moon"}, 404, "unknown site 'moon'"),
        ("/v1/switchover", {"unit": "u00", "to": "production"}, 422, "already primary"),
        ("/v1/switchover", {"site": "production", "to": "production"}, 422, "already"),
        ("/v1/switchover", {"to": "same-city"}, 422, "exactly one of"),
        ("/v1/switchover", {"unit": "u00"}, 422, "body.to: Field required"),
        ("/v1/switchover", {}, 422, "body.to"),
        (
            "/v1/switchover",
            {"unit": "u00", "site": "production", "to": "same-city"},
            422,
            "exactly one of",
        ),
        ("/v1/failover", {"site": "nowhere", "to": "same-city"}, 404, "unknown site"),
        ("/v1/failback", {"site": "moon"}, 404, "unknown site"),
        ("/v1/approvals/a-nope", {}, 404, "unknown approval"),
        ("/v1/approvals/a-nope", {"accept_loss": -1}, 422, "accept_loss"),
        ("/v1/switchover", {"unit": "u00", "to": "same-city", "extra": 1}, 422, "extra"),
    ],
)
def test_bad_input_gets_a_clear_4xx_and_changes_nothing(
    client: TestClient, world: World, path: str, body: dict[str, object], status: int, words: str
) -> None:
    before = routes(world)
    answer = client.post(path, json=body, headers=auth_for(path))
    assert answer.status_code == status, answer.text
    assert set(answer.json()) >= {"error", "detail"}
    assert words in answer.json()["detail"]
    assert routes(world) == before


def test_failback_before_the_stability_window_is_refused_and_changes_nothing(
    client: TestClient, world: World
) -> None:
    moved = client.post("/v1/switchover", json={"unit": "u00", "to": "same-city"}, headers=AUTH)
    assert moved.status_code == 200, moved.text
    world.cycle()
    before = routes(world)
    answer = client.post("/v1/failback", json={"site": "production"}, headers=AUTH)
    assert (answer.status_code, answer.json()["error"]) == (409, "unsafe_action")
    assert "failback needs" in answer.json()["detail"]
    assert routes(world) == before


def test_failback_with_every_unit_already_home_is_a_harmless_no_op(
    client: TestClient, world: World
) -> None:
    before = routes(world)
    answer = client.post("/v1/failback", json={"site": "production"}, headers=AUTH)
    assert answer.status_code == 200, answer.text
    assert "nothing to fail back" in str(answer.json())
    assert routes(world) == before


def test_approving_twice_is_refused_the_second_time(client: TestClient, world: World) -> None:
    approval = world.runtime.state.new_approval(
        unit="u00", from_site="production", to_site="remote-dr", expected_epoch=1,
        estimated_loss=4, accepted_loss=0, reason="test",
    )  # fmt: skip
    first = client.post(f"/v1/approvals/{approval.id}", json={}, headers=ALICE)
    second = client.post(f"/v1/approvals/{approval.id}", json={}, headers=ALICE)
    assert first.status_code == 200
    assert first.json()["approval"]["accepted_loss"] == 4
    assert (second.status_code, second.json()["error"]) == (409, "unsafe_action")
    assert "already granted" in second.json()["detail"]


def test_accepting_less_than_the_estimated_loss_is_refused(
    client: TestClient, world: World
) -> None:
    approval = world.runtime.state.new_approval(
        unit="u00", from_site="production", to_site="remote-dr", expected_epoch=1,
        estimated_loss=4, accepted_loss=0, reason="test",
    )  # fmt: skip
    answer = client.post(f"/v1/approvals/{approval.id}", json={"accept_loss": 3}, headers=ALICE)
    assert answer.status_code == 422
    assert world.runtime.state.approval(approval.id).status == "pending"  # type: ignore[union-attr]


def test_a_switchover_catches_the_target_up_from_the_drained_primary_and_moves_the_unit(
    client: TestClient, world: World
) -> None:
    answer = client.post("/v1/switchover", json={"unit": "u00", "to": "same-city"}, headers=AUTH)
    assert answer.status_code == 200, answer.text
    assert answer.json()["moves"] == ["switchover: u00 production→same-city at epoch 2"]
    assert world.route("u00") == ("same-city", 2)
    new = world.units.instances["u00", "same-city"]
    assert (new.role, new.epoch) == ("primary", 2)
    assert set(new.applied) == {"production", "remote-dr"}
    assert "catch-up u00@same-city from production" in world.log
    assert world.units.instances["u00", "production"].role == "standby"


def test_freeze_suspends_failovers_and_unfreeze_resumes_them(
    client: TestClient, world: World
) -> None:
    assert client.post("/v1/freeze", json={"reason": "maintenance"}, headers=AUTH).json() == {
        "frozen": True,
        "reason": "maintenance",
    }
    world.units.down.add("production")
    world.drop_leases_in("production")
    sentences = [world.cycle() for _ in range(4)]
    assert sentences[-1].startswith("frozen: automatic actions suspended; would be failing over")
    assert world.route("u00") == ("production", 1)
    client.post("/v1/unfreeze", headers=AUTH)
    world.cycle()
    assert world.route("u00") == ("same-city", 2)


def test_status_shows_leader_site_verdicts_and_pending_approvals(
    client: TestClient, world: World
) -> None:
    world.runtime.state.new_approval(
        unit="u03", from_site="same-city", to_site="remote-dr", expected_epoch=1,
        estimated_loss=0, accepted_loss=0, reason="test",
    )  # fmt: skip
    world.cycle()
    status = client.get("/v1/status").json()
    assert status["leader"] == "same-city"
    assert status["sites"]["production"]["state"] == "up"
    assert status["sites"]["production"]["observers"] == {"remote-dr": 0, "same-city": 0}
    assert [a["unit"] for a in status["approvals"]] == ["u03"]
    assert status["units"]["u00"]["primary_site"] == "production"


def test_a_non_leader_answers_503_with_the_leaders_url(world: World, tmp_path: Path) -> None:
    world.cycle()
    follower = world.controller(tmp_path, "remote-dr")
    follower.leadership.tick()
    answer = TestClient(create_app(follower)).post(
        "/v1/switchover", json={"unit": "u00", "to": "same-city"}, headers=AUTH
    )
    assert answer.status_code == 503
    assert answer.json()["error"] == "not_leader"
    assert answer.json()["leader_url"] == "http://controller.same-city"


def test_metrics_count_failovers_and_time_detection(client: TestClient, world: World) -> None:
    world.units.down.add("production")
    world.drop_leases_in("production")
    for _ in range(4):
        world.cycle()
    text = client.get("/metrics").text
    assert 'watertight_controller_failovers_total{unit="u00"} 1.0' in text
    assert 'watertight_controller_detection_seconds{site="production"}' in text
    assert "watertight_controller_leader 1.0" in text
