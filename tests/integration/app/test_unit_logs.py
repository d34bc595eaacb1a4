"""Real unit processes started as the platform starts them (output to a log file, not a
terminal) write JSON lines: every line parses and names the process, its site, its unit
and the epoch it is at, which follows a promotion (failover/log_format.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from unit_trio_helpers import (
    PLACEMENT,
    UNIT,
    customers,
    purchase,
    running_trio,
    set_role,
    unit_status,
    wait_until,
    write,
)

pytestmark = pytest.mark.integration


def records(log: Path) -> list[dict[str, Any]]:
    lines = log.read_text(encoding="utf-8").splitlines()
    assert lines, f"{log} is empty"
    parsed: list[dict[str, Any]] = []
    for number, line in enumerate(lines, 1):
        try:
            parsed.append(json.loads(line))
        except ValueError:
            pytest.fail(f"{log}:{number} is not JSON: {line!r}")
    return parsed


def test_every_line_a_unit_process_logs_is_json_with_its_site_unit_and_current_epoch(
    tmp_path: Path,
) -> None:
    with running_trio(tmp_path, "sqlite") as trio:
        old, new = trio.primary, trio.city
        assert write(old, customers(1)[0], "k1", purchase(10)).status_code == 201
        promoted = set_role(new, role="primary", epoch=2, standbys=[PLACEMENT.primary])
        assert promoted.status_code == 200, promoted.text
        wait_until(lambda: unit_status(old)["epoch"] == 2, what="the old primary to see epoch 2")
        logs = {site: process.log_path for site, process in trio.processes.items()}

    for site, log in logs.items():
        lines = records(log)
        for line in lines:
            assert (line["process"], line["site"], line["unit"]) == ("unit", site, UNIT), line
            assert {"ts", "level", "logger", "message", "epoch"} <= line.keys(), line
            # null only before the instance has loaded its stored role
            assert line["epoch"] is None or line["epoch"] >= 1, line
            assert "color_message" not in line
        started = [line for line in lines if line["message"].startswith(f"unit {UNIT} at {site}")]
        assert started and started[0]["epoch"] == 1, started
        # uvicorn's own records come through the same formatter
        assert any(line["logger"].startswith("uvicorn") for line in lines), lines

    promotion = [
        line for line in records(logs[PLACEMENT.city_standby]) if "now primary" in line["message"]
    ]
    assert promotion and promotion[0]["epoch"] == 2
    assert promotion[0]["message"] == "now primary at epoch 2 (was standby at epoch 1)"
    followed = [
        line for line in records(logs[PLACEMENT.primary]) if "now standby" in line["message"]
    ]
    assert followed and followed[0]["epoch"] == 2
