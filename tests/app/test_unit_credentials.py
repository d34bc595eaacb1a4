"""A unit's credentials: the admin and replication credentials each do their job and
nothing else, the people's credentials do nothing here, and a rotated token takes
effect without a restart."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from unit_app_helpers import settings_for, unit_client

from failover.credentials import Role

TOKENS = {
    Role.REPLICATION: "replication-token-0001",
    Role.ADMIN: "admin-token-000000001",
    Role.OPERATOR: "operator-token-00001",
    Role.APPROVER: "alice-approver-00001",
}
ADMIN_WORK = [
    ("post", "/admin/role", {"role": "standby", "epoch": 1, "primary_site": "same-city"}),
    ("get", "/admin/discarded-entries", None),
]
REPLICATION_WORK = [
    ("post", "/replication/handshake", {"epoch": 1, "primary_site": "same-city", "last_lsn": 0,
                                        "epoch_ranges": []}),
    ("post", "/replication/export", {"after_lsn": 0, "limit": 10}),
    ("get", "/replication/digest", None),
]  # fmt: skip


def bearer(role: Role, tokens: dict[Role, str] = TOKENS) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens[role]}"}


def replace_file(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.new")
    tmp.write_text(text)
    os.replace(tmp, path)  # atomically, as a Kubernetes Secret update does


@pytest.fixture
def credentials(tmp_path: Path) -> Path:
    directory = tmp_path / "credentials"
    directory.mkdir()
    (directory / "replication").write_text(TOKENS[Role.REPLICATION] + "\n")
    (directory / "admin").write_text(TOKENS[Role.ADMIN] + "\n")
    # A unit is not given the people's files; they are here to prove it ignores them.
    (directory / "operator").write_text(TOKENS[Role.OPERATOR] + "\n")
    (directory / "approvers").write_text(f"alice {TOKENS[Role.APPROVER]}\n")
    return directory


@pytest.fixture
def unit(tmp_path: Path, credentials: Path) -> Iterator[TestClient]:
    settings = settings_for(tmp_path, token=None, credentials_dir=credentials)
    with unit_client(settings) as client:
        yield client


def call(client: TestClient, work: tuple[str, str, object], role: Role) -> tuple[int, str]:
    method, path, body = work
    answer = client.request(method, path, json=body, headers=bearer(role))
    return answer.status_code, answer.text


@pytest.mark.parametrize("work", ADMIN_WORK)
def test_the_admin_credential_changes_roles_and_reads_discarded_entries(
    unit: TestClient, work: tuple[str, str, object]
) -> None:
    status, text = call(unit, work, Role.ADMIN)
    assert status == 200, text


@pytest.mark.parametrize("work", REPLICATION_WORK)
def test_the_replication_credential_ships_exports_and_digests(
    unit: TestClient, work: tuple[str, str, object]
) -> None:
    status, text = call(unit, work, Role.REPLICATION)
    assert status == 200, text


@pytest.mark.parametrize("work", ADMIN_WORK)
@pytest.mark.parametrize("role", [Role.REPLICATION, Role.OPERATOR, Role.APPROVER])
def test_no_other_credential_reaches_the_admin_api(
    unit: TestClient, work: tuple[str, str, object], role: Role
) -> None:
    status, text = call(unit, work, role)
    assert status == 403 and "needs the admin credential" in text
    assert unit.get("/v1/unit").json()["role"] == "standby"


@pytest.mark.parametrize("work", REPLICATION_WORK)
@pytest.mark.parametrize("role", [Role.ADMIN, Role.OPERATOR, Role.APPROVER])
def test_no_other_credential_reaches_replication(
    unit: TestClient, work: tuple[str, str, object], role: Role
) -> None:
    status, text = call(unit, work, role)
    assert status == 403 and "needs the replication credential" in text


def test_a_unit_refuses_to_start_with_a_malformed_credentials_file(
    tmp_path: Path, credentials: Path
) -> None:
    (credentials / "admin").write_text("too-short\n")
    settings = settings_for(tmp_path, token=None, credentials_dir=credentials)
    with pytest.raises(ValueError, match=r"admin:1: a token is") as caught:
        settings.credentials()
    assert "too-short" not in str(caught.value)


def test_a_rotated_replication_token_works_beside_the_old_one_then_alone_without_a_restart(
    unit: TestClient, credentials: Path
) -> None:
    digest = ("get", "/replication/digest", None)
    old, new = TOKENS[Role.REPLICATION], "replication-token-0002"
    replace_file(credentials / "replication", f"{old}\n{new}\n")
    for token in (old, new):
        answer = unit.get("/replication/digest", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 200
    replace_file(credentials / "replication", f"{new}\n")
    assert call(unit, digest, Role.REPLICATION)[0] == 403
    assert unit.get("/replication/digest", headers={"Authorization": f"Bearer {new}"}).is_success


def test_a_credentials_file_broken_while_running_refuses_its_role_and_says_where_to_look(
    unit: TestClient, credentials: Path
) -> None:
    replace_file(credentials / "admin", "oops\n")
    status, text = call(unit, ADMIN_WORK[1], Role.ADMIN)
    assert status == 403 and "cannot read its admin credentials" in text
    assert "oops" not in text
