"""Both city-A sites lost (issue 4, acceptance 5), end to end with real processes.

With one etcd member per site, losing production and same-city leaves etcd without a
quorum: nothing may move until a person declares the disaster, which rebuilds the quorum
on remote-dr (infra/local/quorum_recovery.py). Then every unit waits in an approval that
states its loss; approving promotes it, and the acknowledged writes lost are exactly the
async lag the approvals stated. When city A returns, its etcd members rejoin afresh: the
two old members, a majority of the *old* cluster, never serve the pre-disaster routes.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from controller_helpers import (
    RunningPlatform,
    all_sites_up,
    customers_by_unit,
    events,
    leader_status,
    one_primary_per_unit,
    routes,
    start_platform,
    unit_roles,
    wait_for,
    watertight,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(900)]

BODY = {"type": "purchase", "amount_minor": 100, "currency": "CNY"}
WRITES = 12


def _write(router: str, customer: str) -> dict[str, Any]:
    answer = httpx.post(
        f"{router}/v1/customers/{customer}/transactions",
        json=BODY,
        headers={"Idempotency-Key": f"k-{uuid.uuid4().hex}"},
        timeout=10.0,
    )
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def _pending(platform: RunningPlatform) -> dict[str, dict[str, Any]]:
    status = leader_status(platform) or {}
    return {a["unit"]: a for a in status.get("approvals", []) if a["to_site"] == "remote-dr"}


def _voting_members(platform: RunningPlatform) -> list[str]:
    url = platform.info["etcd_client_urls"]["remote-dr"]
    members = httpx.post(f"{url}/v3/cluster/member/list", json={}, timeout=5.0).json()["members"]
    return sorted(m.get("name", "") for m in members if not m.get("isLearner"))


def test_city_a_lost_needs_a_declared_disaster_then_approvals_and_loses_exactly_the_async_lag(
    tmp_path: Path,
) -> None:
    platform = start_platform(tmp_path / "p")
    try:
        wait_for("a leader and three healthy sites", lambda: all_sites_up(platform))
        healthy = platform.cli("disaster", "declare", "--survivor", "remote-dr")
        assert healthy.returncode != 0 and "still running" in healthy.stderr, healthy.stderr

        # remote-dr stops receiving u00's journal; city A keeps quorum and sync replication.
        assert platform.cli("fault", "partition", "production", "remote-dr").returncode == 0
        customer = customers_by_unit(platform.router_url)["u00"][0]
        acknowledged = [_write(platform.router_url, customer) for _ in range(WRITES)]
        last_lsn = max(a["lsn"] for a in acknowledged)
        wait_for(
            "the controllers to record u00's acknowledged writes",
            lambda: (leader_status(platform) or {})["units"]["u00"]["acknowledged_lsn"] >= last_lsn,
        )
        # Both at once: one after the other, production's units could fail over into
        # same-city before it goes too.
        lost = platform.cli("fault", "site-down", "production", "same-city")
        assert lost.returncode == 0, lost.stderr
        assert "sites production, same-city down together" in lost.stdout

        time.sleep(10)  # several detection windows: without a quorum nothing moves
        survivors = {u: sites["remote-dr"] for u, sites in unit_roles(platform).items()}
        assert {role for role, _epoch in survivors.values()} == {"standby"}, survivors

        declared = platform.cli("disaster", "declare", "--survivor", "remote-dr")
        assert declared.returncode == 0, declared.stderr
        assert "disaster declared" in declared.stdout
        pending = wait_for(
            "an approval for every unit",
            lambda: len(_pending(platform)) == 8 and _pending(platform),
        )
        assert pending["u00"]["estimated_loss"] == WRITES
        assert all(a["estimated_loss"] == 0 for u, a in pending.items() if u != "u00")
        for approval in pending.values():
            granted = platform.cli(
                "approve", approval["id"], "--accept-loss", str(approval["estimated_loss"])
            )
            assert granted.returncode == 0, granted.stderr
        wait_for(
            "every unit promoted in remote-dr",
            lambda: set(routes(platform).values()) == {("remote-dr", 2)},
        )
        promoted = [e for e in events(platform) if e["kind"] == "promoted"]
        stated = sum(e["data"]["accepted_loss"] for e in promoted)
        lost = [
            a for a in acknowledged
            if httpx.get(
                f"{platform.router_url}/v1/customers/{customer}/transactions/"
                f"{a['transaction_id']}", timeout=10.0,
            ).status_code != 200
        ]  # fmt: skip
        print(f"approvals stated a loss of {stated}; read-back found {len(lost)} lost")
        assert len(lost) == stated == WRITES
        after = _write(platform.router_url, customer)
        assert (after["site"], after["epoch"], after["lsn"]) == ("remote-dr", 2, 1)

        assert platform.cli("fault", "site-up", "production").returncode == 0
        assert platform.cli("fault", "site-up", "same-city").returncode == 0
        assert platform.cli("fault", "heal").returncode == 0
        assert _voting_members(platform) == ["production", "remote-dr", "same-city"]
        state = json.loads((platform.state_dir / "platform.json").read_text())
        assert state["etcd_removed"] == []
        wait_for(
            "one primary per unit after city A returns", lambda: one_primary_per_unit(platform)
        )
        assert set(routes(platform).values()) == {("remote-dr", 2)}
        # The old primary came back as a standby and discarded its unacknowledged tail.
        wait_for(
            "production's u00 to resync from remote-dr",
            lambda: _last_lsn(platform, "u00", "production") == 1,
        )
    finally:
        watertight("down", "--state-dir", str(platform.state_dir))


def _last_lsn(platform: RunningPlatform, unit: str, site: str) -> int:
    state = json.loads((platform.state_dir / "platform.json").read_text())
    port = state["processes"][f"unit-{unit}-{site}"]["env"]["WATERTIGHT_PORT"]
    return int(httpx.get(f"http://127.0.0.1:{port}/v1/unit", timeout=2.0).json()["last_lsn"])
