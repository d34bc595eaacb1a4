"""End to end on the local platform: a unit's primary knocked into a wrong role, epoch and
primary site through its own admin API is named by the controller and repaired in place,
and the unit writes again. Real processes, real etcd; slow."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest
from controller_helpers import (
    Writer,
    all_sites_up,
    customers_by_unit,
    events,
    leader_status,
    one_primary_per_unit,
    routes,
    start_platform,
    wait_for,
    watertight,
)

from failover.credentials import Role, read_token

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]


def unit_url(state_dir: Path, unit: str, site: str) -> str:
    state = json.loads((state_dir / "platform.json").read_text())
    for record in state["processes"].values():
        if record["kind"] == "unit" and (record["unit"], record["site"]) == (unit, site):
            return f"http://127.0.0.1:{record['env']['WATERTIGHT_PORT']}"
    raise AssertionError(f"no process for {unit} in {site}")


def test_a_primary_knocked_into_a_wrong_role_is_named_then_repaired_and_writes_again(
    tmp_path: Path,
) -> None:
    platform = start_platform(tmp_path / "p")
    try:
        wait_for("a leader and three healthy sites", lambda: all_sites_up(platform))
        wait_for("one primary per unit", lambda: one_primary_per_unit(platform))
        site, epoch = routes(platform)["u00"]
        token = read_token(platform.state_dir / "credentials", Role.ADMIN)
        # The knock: a wrong role, a jump in epoch and a primary site that is not it.
        knock = httpx.post(
            f"{unit_url(platform.state_dir, 'u00', site)}/admin/role",
            json={"role": "standby", "epoch": epoch + 1, "primary_site": "remote-dr"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert knock.status_code == 200, knock.text
        summaries: list[str] = []

        def repaired() -> bool:
            summaries.append(str((leader_status(platform) or {}).get("summary", "")))
            return routes(platform).get("u00") == (site, epoch + 2) and one_primary_per_unit(
                platform
            )

        wait_for("u00 re-promoted in place above both epochs", repaired, timeout=60, every=0.2)
        # Meanwhile the status said the unit had no writable primary (the observers see
        # the knock a round later, so the very first answers may still be "no action").
        assert any("u00" in s and "no writable primary" in s for s in summaries), summaries
        writer = Writer(platform.router_url, {"u00": customers_by_unit(platform.router_url)["u00"]})
        writer.start(threads=1)
        try:
            wait_for(
                "u00 acknowledging writes again",
                lambda: "u00" in writer.succeeded_since(time.time() - 2),
                timeout=30,
            )
        finally:
            writer.stop()
        assert writer.lost() == []
        told = [
            e for e in events(platform) if e.get("kind") == "promoted" and e.get("unit") == "u00"
        ]
        assert told, "the repair is recorded as a promotion with its reason"
    finally:
        watertight("down", "--state-dir", str(platform.state_dir))
