"""The measurements are honest: a system that drops acknowledged writes fails its drill.

While a plain no-fault drill runs, the test deletes the transactions that u00's primary
(production) has already written (once it holds a few), straight from its SQLite file:
a "fault" that silently loses acknowledged writes. The drill must count them as lost
(RPO > 0, listed in the evidence, all u00 customers) and fail. (A row deleted while
its write was still waiting for the standby is acknowledged afterwards and lost too, so
the count is at most the rows deleted.)
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest
import yaml
from dr_helpers import DR_TIMEOUT, REPO, drill_report, expectation, running_platform, watertight

from failover.topology import load_topology

pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.timeout(DR_TIMEOUT)]
__all__ = ["running_platform"]

SPEC = {
    "title": "No fault at all (while the test drops acknowledged writes)",
    "load": {
        "rate_per_second": 8,
        "customers": 40,
        "duration_seconds": 25,
        "mix": {"purchase": 1.0},
    },
    "expect": {"rpo_lost_acknowledged": 0},
}


def drop_acknowledged_writes(database: Path, dropped: list[int], at_least: int = 3) -> None:
    """Once u00's primary holds ``at_least`` transactions, delete them all."""
    deadline = time.monotonic() + 60
    with sqlite3.connect(database, timeout=10) as db:
        while time.monotonic() < deadline:
            (count,) = db.execute("SELECT count(*) FROM transactions").fetchone()
            if count >= at_least:
                dropped.append(db.execute("DELETE FROM transactions").rowcount)
                return
            time.sleep(0.2)


def test_a_drill_reports_acknowledged_writes_that_were_dropped_and_fails(
    running_platform: Path, tmp_path: Path
) -> None:
    spec_file = tmp_path / "no-fault.yaml"
    spec_file.write_text(yaml.safe_dump(SPEC))
    database = running_platform / "data" / "production" / "u00-production.db"
    assert database.exists()
    dropped: list[int] = []
    tamper = threading.Thread(target=drop_acknowledged_writes, args=(database, dropped))
    tamper.start()
    done = watertight("drill", "run", str(spec_file), "--attach", str(running_platform),
                      "--report-dir", str(tmp_path / "report"))  # fmt: skip
    tamper.join()
    assert dropped and dropped[0] > 0, "nothing was dropped"
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    report = drill_report(tmp_path / "report")
    assert report["verdict"] == "fail"
    assert 0 < report["measurements"]["rpo_lost_acknowledged"] <= dropped[0]
    assert not expectation(report, "rpo_lost_acknowledged")["passed"]
    topology = load_topology(REPO / "topology.yaml")
    lost_units = {topology.unit_of(customer) for customer, _ in report["evidence"]["lost_writes"]}
    assert lost_units == {"u00"}
