"""End to end on the local platform: the replication and admin tokens are rotated in the
three steps of docs/security.md while writes go on; no process restarts, no write is
refused, the old tokens are refused afterwards, and the controller moves a unit with
the new admin token. Real processes, real etcd; slow."""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx
import pytest
from controller_helpers import (
    Writer,
    all_sites_up,
    customers_by_unit,
    one_primary_per_unit,
    routes,
    start_platform,
    wait_for,
    watertight,
)
from test_role_drift import unit_url

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]
NEW = {"replication": "rotated-replication-token-0002", "admin": "rotated-admin-token-000002"}
# Long enough for every replication link and the controllers to send a few requests with
# the token the previous step made current.
SETTLE_SECONDS = 3.0


def replace_file(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.new")
    tmp.write_text(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def pids(state_dir: Path) -> dict[str, str]:
    return {f.stem: f.read_text().strip() for f in (state_dir / "pids").glob("*.pid")}


def status_with(url: str, token: str) -> int:
    return httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=5).status_code


def test_replication_and_admin_tokens_rotate_under_load_without_a_restart_or_a_refused_write(
    tmp_path: Path,
) -> None:
    platform = start_platform(tmp_path / "p")
    try:
        wait_for("a leader and three healthy sites", lambda: all_sites_up(platform))
        wait_for("one primary per unit", lambda: one_primary_per_unit(platform))
        directory = platform.state_dir / "credentials"
        old = {role: (directory / role).read_text().strip() for role in NEW}
        pids_before = pids(platform.state_dir)
        writer = Writer(platform.router_url, customers_by_unit(platform.router_url))
        writer.start(threads=2)
        try:
            for role, new in NEW.items():  # 1: everyone accepts both, presents the old one
                replace_file(directory / role, f"{old[role]}\n{new}\n")
            time.sleep(SETTLE_SECONDS)
            for role, new in NEW.items():  # 2: everyone presents the new one
                replace_file(directory / role, f"{new}\n{old[role]}\n")
            time.sleep(SETTLE_SECONDS)
            for role, new in NEW.items():  # 3: the old one is gone
                replace_file(directory / role, f"{new}\n")
            time.sleep(SETTLE_SECONDS)
            started = time.time()
            wait_for(
                "every unit acknowledging writes after the rollover",
                lambda: set(writer.customers) <= set(writer.succeeded_since(started)),
                timeout=30,
            )
        finally:
            writer.stop()
        assert writer.lost() == []
        refused = [a for a in writer.attempts if a.status in (401, 403)]
        assert refused == []
        site, epoch = routes(platform)["u00"]
        unit = unit_url(platform.state_dir, "u00", site)
        assert status_with(f"{unit}/replication/digest", old["replication"]) == 403
        assert status_with(f"{unit}/replication/digest", NEW["replication"]) == 200
        assert status_with(f"{unit}/admin/discarded-entries", old["admin"]) == 403
        # The controllers present the new admin token: a switchover changes units' roles.
        target = "same-city" if site != "same-city" else "production"
        moved = platform.cli("switchover", "--unit", "u00", "--to", target)
        assert moved.returncode == 0, moved.stderr
        # The leader's status is its last cycle's snapshot: the move shows a cycle later.
        wait_for(
            f"u00's route at {target}, epoch {epoch + 1} ({moved.stdout.strip()})",
            lambda: routes(platform).get("u00") == (target, epoch + 1),
            timeout=15,
        )
        # Every unit and controller is the process it was before the rotation.
        after = pids(platform.state_dir)
        assert {n: p for n, p in after.items() if n.startswith(("unit-", "controller-"))} == {
            n: p for n, p in pids_before.items() if n.startswith(("unit-", "controller-"))
        }
    finally:
        watertight("down", "--state-dir", str(platform.state_dir))
