"""bench/drill_rto.py's summary: which runs its RTO spread counts."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from drill_rto import measured_runs


def run(verdict: str, fault_at: float | None, rto: float | None) -> dict[str, Any]:
    return {
        "verdict": verdict,
        "evidence": {"fault_at": fault_at},
        "measurements": {"rto_seconds": rto},
    }


def test_a_run_aborted_after_its_fault_stays_in_the_spread_as_unrecovered() -> None:
    before = run("aborted", None, 0.0)
    after = run("aborted", 13.8, None)  # the guard rail tripped mid-failover
    passed, failed = run("pass", 14.1, 5.3), run("fail", 14.0, 31.4)
    assert measured_runs([before, passed, after, failed]) == [passed, after, failed]
