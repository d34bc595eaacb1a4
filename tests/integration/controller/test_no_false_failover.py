"""Partitions, a hung witness and a slow site are not site failures; a hung site that
holds primaries is (issue 4, acceptance 4). Real processes and faults; slow."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from controller_helpers import (
    RunningPlatform,
    all_sites_up,
    events,
    routes,
    start_platform,
    wait_for,
    watertight,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(900)]

#: Several detection windows (3 rounds of 1 s each, plus report staleness).
SPAN_SECONDS = 15.0


def _hold(platform: RunningPlatform, fault: list[str], undo: list[str]) -> None:
    assert platform.cli("fault", *fault).returncode == 0
    try:
        time.sleep(SPAN_SECONDS)
    finally:
        assert platform.cli("fault", *undo).returncode == 0
    wait_for("three healthy sites again", lambda: all_sites_up(platform), timeout=120)


def test_partition_hung_witness_and_slow_site_cause_no_failover_but_a_hung_primary_site_does(
    tmp_path: Path,
) -> None:
    platform = start_platform(tmp_path / "p")
    try:
        wait_for("a leader and three healthy sites", lambda: all_sites_up(platform))
        start = time.time()
        before = {u: site for u, (site, _) in routes(platform).items()}
        _hold(platform, ["partition", "production", "same-city"], ["heal"])
        _hold(platform, ["site-hang", "remote-dr"], ["site-up", "remote-dr"])
        _hold(platform, ["slow", "same-city", "--ms", "300"], ["heal"])
        after = {u: site for u, (site, _) in routes(platform).items()}
        assert after == before
        promoted = [e for e in events(platform) if e["kind"] == "promoted" and e["at"] >= start]
        moved = [e for e in promoted if e["data"].get("from_site") != e["site"]]
        assert moved == []
        # The hung witness may be declared down (it holds no primary); city A may not.
        city_a = ("production", "same-city")
        downs = [
            (e["site"], e["summary"])
            for e in events(platform)
            if e["kind"] == "site_down" and e["at"] >= start and e["site"] in city_a
        ]
        assert downs == []

        assert platform.cli("fault", "site-hang", "production").returncode == 0
        wait_for(
            "production's units failed over to same-city",
            lambda: all(routes(platform).get(u, ("", 0))[0] == "same-city" for u in before),
            timeout=120,
        )
    finally:
        watertight("down", "--state-dir", str(platform.state_dir))
