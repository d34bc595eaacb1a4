"""A promotion into remote-dr waits for a person, end to end (the part real processes can
show while etcd keeps its quorum): u00's same-city instance is dead when production
fails, so the only fit standby is remote-dr's, and the same-city copy's position cannot
be learned. The unit waits in a pending approval that states the loss; `watertight
approve` promotes it, and the acknowledged writes lost are at most what it stated.

(With *both* city-A sites down etcd has no quorum and nothing can be approved until it is
restored — docs/controller.md §12.)"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from controller_helpers import (
    Writer,
    all_sites_up,
    customers_by_unit,
    events,
    leader_status,
    routes,
    start_platform,
    wait_for,
    watertight,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(900)]


def test_a_remote_dr_promotion_waits_for_approve_and_loses_no_more_than_it_stated(
    tmp_path: Path,
) -> None:
    platform = start_platform(tmp_path / "p")
    try:
        wait_for("a leader and three healthy sites", lambda: all_sites_up(platform))
        customers = customers_by_unit(platform.router_url)
        writer = Writer(platform.router_url, {"u00": customers["u00"]})
        writer.start(threads=1)
        time.sleep(3)
        assert platform.cli("fault", "unit-crash", "u00", "--site", "same-city").returncode == 0
        assert platform.cli("fault", "site-down", "production").returncode == 0
        pending = wait_for(
            "a pending approval for u00 in remote-dr",
            lambda: [
                a
                for a in (leader_status(platform) or {}).get("approvals", [])
                if a["unit"] == "u00" and a["to_site"] == "remote-dr"
            ],
        )[0]
        assert routes(platform)["u00"] == ("production", 1)
        assert platform.cli("status").returncode == 0
        approved = platform.cli("approve", pending["id"], "--json")
        assert approved.returncode == 0, approved.stderr
        assert json.loads(approved.stdout)["approval"]["status"] == "granted"
        # The approver is the one the CLI's credential names (the platform's first approver).
        granted = [e for e in events(platform) if e["kind"] == "approval_granted"]
        assert [e["data"]["approver"] for e in granted] == ["alice"]
        twice = platform.cli("approve", pending["id"])
        assert twice.returncode != 0
        assert "already granted" in twice.stderr or "already used" in twice.stderr
        wait_for("u00 promoted in remote-dr", lambda: routes(platform)["u00"] == ("remote-dr", 2))
        wait_for("u00 writing again", lambda: "u00" in writer.succeeded_since(time.time() - 2), 60)
        writer.stop()
        promoted = [e for e in events(platform) if e["kind"] == "promoted" and e["unit"] == "u00"]
        assert promoted[-1]["data"]["approval_id"] == pending["id"]
        assert promoted[-1]["data"]["accepted_loss"] == pending["estimated_loss"]
        assert len(writer.lost()) <= pending["estimated_loss"]
        print(f"approval stated {pending['estimated_loss']}, lost {len(writer.lost())}")
    finally:
        watertight("down", "--state-dir", str(platform.state_dir))
