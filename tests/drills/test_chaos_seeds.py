"""Randomized fault matrix with fixed seeds: invariants only, on one shared platform.

Each seed is a reproducible drill (``watertight drill chaos --seed N --duration 25``);
its report lands in ``reports/drills/chaos-seed-N/``. The seeds share one platform
(chaos judges no placement, only invariants), so the whole matrix stays within CI time.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from dr_helpers import (
    DR_TIMEOUT,
    NEEDS_CONTROLLER,
    REPORTS,
    drill_report,
    explain,
    shared_platform,
    watertight,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.integration,
    pytest.mark.timeout(DR_TIMEOUT),
    NEEDS_CONTROLLER,
]
__all__ = ["shared_platform"]

SEEDS = range(1, 21)
DURATION_SECONDS = 25


@pytest.mark.parametrize("seed", SEEDS)
def test_the_chaos_seed_keeps_every_invariant(seed: int, shared_platform: Path) -> None:
    directory = REPORTS / f"chaos-seed-{seed}"
    done = watertight("drill", "chaos", "--seed", str(seed), "--duration",
                      str(DURATION_SECONDS), "--attach", str(shared_platform),
                      "--report-dir", str(directory))  # fmt: skip
    report = drill_report(directory)
    assert report["verdict"] == "pass", explain(report)
    assert done.returncode == 0
    m = report["measurements"]
    assert m["rpo_lost_acknowledged"] == 0
    assert m["split_brain"] is False
