"""The controller's credentials: operator and approver each do their job and nothing else,
an approval names its approver in the events, two different approvers when the topology
asks, and a rotated token takes effect without a restart."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from harness import ADMIN_TOKEN, ALICE, APPROVER_TOKENS, BOB, OPERATOR, World

from failover.controller.api import create_app
from failover.controller.state import ControllerState, ReplicationMark, StoredApproval
from failover.topology import Policy, default_topology

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
OPERATOR_WORK = [
    ("/v1/switchover", {"unit": "u00", "to": "same-city"}),
    ("/v1/failover", {"unit": "u00", "to": "same-city"}),
    ("/v1/failback", {"site": "production"}),
    ("/v1/freeze", {"reason": "maintenance"}),
    ("/v1/unfreeze", {}),
    ("/v1/drill-notes", {"drill": "Production site outage", "note": "site-down production"}),
]


@pytest.fixture
def client(world: World) -> TestClient:
    world.cycle()
    world.cycle()
    return TestClient(create_app(world.runtime))


def pending(world: World, loss: int = 4) -> StoredApproval:
    return world.runtime.state.new_approval(
        unit="u00", from_site="production", to_site="remote-dr", expected_epoch=1,
        estimated_loss=loss, accepted_loss=0, reason="test",
    )  # fmt: skip


@pytest.mark.parametrize(("path", "body"), OPERATOR_WORK)
def test_the_operator_credential_moves_freezes_and_fails_back(
    client: TestClient, path: str, body: dict[str, object]
) -> None:
    answer = client.post(path, json=body, headers=OPERATOR)
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize(("path", "body"), OPERATOR_WORK)
@pytest.mark.parametrize("who", ["approver", "admin"])
def test_an_approver_or_the_admin_credential_cannot_do_an_operators_work(
    client: TestClient, world: World, path: str, body: dict[str, object], who: str
) -> None:
    before = [world.route(u) for u in world.topology.units]
    answer = client.post(path, json=body, headers=ALICE if who == "approver" else ADMIN)
    assert (answer.status_code, answer.json()["error"]) == (403, "forbidden")
    assert "needs the operator credential" in answer.json()["detail"]
    assert [world.route(u) for u in world.topology.units] == before
    assert world.runtime.state.frozen() is None


def test_the_approver_credential_approves_and_names_its_approver_in_the_events(
    client: TestClient, world: World
) -> None:
    approval = pending(world)
    answer = client.post(f"/v1/approvals/{approval.id}", json={}, headers=BOB)
    assert answer.status_code == 200, answer.text
    assert answer.json()["approval"]["approvers"] == ["bob"]
    events = client.get("/v1/events", params={"kind": "approval_granted"}).json()["events"]
    (granted,) = events
    assert granted["data"]["approver"] == "bob" and "granted by bob" in granted["summary"]
    assert world.runtime.state.approval(approval.id).decided_by == "bob"  # type: ignore[union-attr]


@pytest.mark.parametrize("who", ["operator", "admin"])
def test_an_operator_or_the_admin_credential_cannot_approve(
    client: TestClient, world: World, who: str
) -> None:
    approval = pending(world)
    answer = client.post(
        f"/v1/approvals/{approval.id}", json={}, headers=OPERATOR if who == "operator" else ADMIN
    )
    assert answer.status_code == 403
    assert "needs the approver credential" in answer.json()["detail"]
    assert world.runtime.state.approval(approval.id).status == "pending"  # type: ignore[union-attr]


def test_an_approval_claiming_another_approvers_name_is_refused(
    client: TestClient, world: World
) -> None:
    approval = pending(world)
    claimed = client.post(f"/v1/approvals/{approval.id}", json={"by": "bob"}, headers=ALICE)
    assert claimed.status_code == 403 and "not the approver" in claimed.json()["detail"]
    assert world.runtime.state.approval(approval.id).status == "pending"  # type: ignore[union-attr]
    own = client.post(f"/v1/approvals/{approval.id}", json={"by": "alice"}, headers=ALICE)
    assert own.status_code == 200, own.text


def two_approver_world(tmp_path: Path) -> World:
    topology = default_topology()
    policy = Policy(distinct_approvers=2)
    return World(tmp_path, site="remote-dr", topology=dataclasses.replace(topology, policy=policy))


def test_with_two_approvers_required_the_same_approver_twice_does_not_count_twice(
    tmp_path: Path,
) -> None:
    world = two_approver_world(tmp_path)
    world.cycle()
    client = TestClient(create_app(world.runtime))
    approval = pending(world, loss=3)
    first = client.post(f"/v1/approvals/{approval.id}", json={"accept_loss": 5}, headers=ALICE)
    assert first.status_code == 200, first.text
    assert first.json()["approval"]["status"] == "pending"
    again = client.post(f"/v1/approvals/{approval.id}", json={}, headers=ALICE)
    assert (again.status_code, again.json()["error"]) == (409, "unsafe_action")
    assert "alice already approved it" in again.json()["detail"]
    second = client.post(f"/v1/approvals/{approval.id}", json={}, headers=BOB)
    assert second.json()["approval"]["status"] == "granted"
    # The smallest loss any approver accepted is the one granted.
    assert second.json()["approval"]["accepted_loss"] == 3
    kinds = [(e.kind, e.data.get("approver")) for e in world.runtime.records.events()]
    assert ("approval_given", "alice") in kinds and ("approval_granted", "bob") in kinds


def test_a_data_losing_promotion_waits_for_the_second_approver(tmp_path: Path) -> None:
    world = two_approver_world(tmp_path)
    state = ControllerState(world.dcs, world.keys)
    for unit in world.topology.units:
        world.units.instances[unit, "remote-dr"].last_lsn = 7
    world.cycle()
    state.put_mark("u00", ReplicationMark(1, acknowledged_lsn=10))
    for site in ("production", "same-city"):
        world.units.down.add(site)
        world.drop_leases_in(site)
    for _ in range(4):
        world.cycle()
    (approval,) = [a for a in state.approvals() if a.unit == "u00" and a.status == "pending"]
    client = TestClient(create_app(world.runtime))
    assert client.post(f"/v1/approvals/{approval.id}", json={}, headers=ALICE).status_code == 200
    world.cycle()
    world.cycle()
    assert world.route("u00") == ("production", 1)
    assert client.post(f"/v1/approvals/{approval.id}", json={}, headers=BOB).status_code == 200
    world.cycle()
    assert world.route("u00") == ("remote-dr", 2)


def replace_file(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.new")
    tmp.write_text(text)
    os.replace(tmp, path)


def test_a_rotated_approver_token_works_beside_the_old_one_then_alone_without_a_restart(
    client: TestClient, world: World, tmp_path: Path
) -> None:
    approvers = tmp_path / f"credentials-{world.runtime.site}" / "approvers"
    old = APPROVER_TOKENS["alice"]
    new = "alice-approver-token-0002"
    replace_file(approvers, f"alice {old}\nalice {new}\nbob {APPROVER_TOKENS['bob']}\n")
    for token in (old, new):
        answer = client.post(
            f"/v1/approvals/{pending(world).id}",
            json={},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert answer.json()["approval"]["approvers"] == ["alice"], answer.text
    replace_file(approvers, f"alice {new}\nbob {APPROVER_TOKENS['bob']}\n")
    refused = client.post(
        f"/v1/approvals/{pending(world).id}", json={}, headers={"Authorization": f"Bearer {old}"}
    )
    assert refused.status_code == 403


def test_a_rotated_operator_token_is_refused_once_removed_from_the_file(
    client: TestClient, world: World, tmp_path: Path
) -> None:
    operator = tmp_path / f"credentials-{world.runtime.site}" / "operator"
    old = OPERATOR["Authorization"]
    new = "operator-token-rotated-0002"
    replace_file(operator, f"{new}\n")
    assert client.post("/v1/freeze", json={}, headers={"Authorization": old}).status_code == 403
    fresh = {"Authorization": f"Bearer {new}"}
    assert client.post("/v1/freeze", json={}, headers=fresh).status_code == 200
