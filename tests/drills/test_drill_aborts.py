"""Ctrl-C and guard rails in the middle of a drill still roll back and leave it healed.

Both tests take production down on a shared platform, stop the drill half way (SIGINT to
the ``watertight drill run`` process; a tripped ``abort_if``), and check that the report
says ``aborted``, that the rollback ran, and that every production process is alive again.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from dr_helpers import (
    DR_TIMEOUT,
    drill_report,
    interrupt,
    running_platform,
    start_drill,
    watertight,
)

pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.timeout(DR_TIMEOUT)]
__all__ = ["running_platform"]


def outage_spec(tmp_path: Path, **extra: Any) -> Path:
    spec = {
        "title": "Production outage, stopped half way",
        "load": {
            "rate_per_second": 20,
            "customers": 50,
            "duration_seconds": 40,
            "mix": {"purchase": 1.0},
        },
        "method": [
            {"at": 6, "action": "site-down", "site": "production"},
            {"at": 35, "action": "site-up", "site": "production"},
        ],
        "rollbacks": [{"action": "site-up", "site": "production"}, {"action": "heal"}],
        **extra,
    }
    path = tmp_path / "outage.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def faults(state_dir: Path) -> list[str]:
    journal = state_dir / "faults.jsonl"
    if not journal.exists():
        return []
    return [json.loads(line)["action"] for line in journal.read_text().splitlines()]


def production_alive(state_dir: Path) -> tuple[int, int]:
    status = watertight("status", "--json", "--state-dir", str(state_dir), timeout=60)
    assert status.returncode == 0, status.stderr
    site = json.loads(status.stdout)["sites"]["production"]
    return site["alive"], site["processes"]


def test_ctrl_c_mid_drill_rolls_back_and_leaves_production_running(
    running_platform: Path, tmp_path: Path
) -> None:
    report_dir = tmp_path / "report"
    process = start_drill("run", str(outage_spec(tmp_path)), "--attach", str(running_platform),
                          "--report-dir", str(report_dir))  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while "site-down" not in faults(running_platform) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert "site-down" in faults(running_platform), "the fault never ran"
        time.sleep(2)
        interrupt(process)
        _out, err = process.communicate(timeout=180)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 2, err[-2000:]
    report = drill_report(report_dir)
    assert report["verdict"] == "aborted"
    assert "interrupted" in report["abort_reason"]
    rollbacks = [a for a in report["actions"] if a["phase"] == "rollback"]
    assert [a["command"] for a in rollbacks] == ["site-up production", "heal"]
    assert all(a["ok"] for a in rollbacks), rollbacks
    assert faults(running_platform)[-2:] == ["site-up", "heal"]
    alive, total = production_alive(running_platform)
    assert alive == total


def test_a_tripped_guard_rail_aborts_and_rolls_back(running_platform: Path, tmp_path: Path) -> None:
    guard = {"abort_if": [{"error_rate_above": 0.2, "for_seconds": 3}]}
    report_dir = tmp_path / "report"
    done = watertight("drill", "run", str(outage_spec(tmp_path, **guard)), "--attach",
                      str(running_platform), "--report-dir", str(report_dir))  # fmt: skip
    assert done.returncode == 2, done.stderr[-2000:]
    report = drill_report(report_dir)
    assert report["verdict"] == "aborted"
    assert report["abort_reason"].startswith("guard rail: error rate")
    commands = [a["command"] for a in report["actions"]]
    assert commands == ["site-down production", "site-up production", "heal"]
    alive, total = production_alive(running_platform)
    assert alive == total
