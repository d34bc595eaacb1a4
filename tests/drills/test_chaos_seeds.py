"""Randomized fault matrix with fixed seeds: invariants only, on one shared platform.

Each seed is a reproducible drill (``watertight drill chaos --seed N --duration 35``);
its report lands in ``reports/drills/chaos-seed-N/``. The seeds share one platform
(chaos judges no placement, only invariants), so the matrix stays within CI time.

The safety invariants (nothing acknowledged lost, no split brain, no double posting)
are asserted strictly; the full verdict, which adds "every unit serving again after the
heal" (an availability matter that depends on machine load), is a known-flaky
expectation like the library drills' (see ``dr_helpers``). Each seed holds one episode
(``drills.chaos``: a site lost while a link is cut, any site and any pair, city A ⟷
remote-dr included, never two sites lost at once, so nothing acknowledged may be lost);
35 s is the shortest run that gives the episode room before the 15 s quiet tail (29 s)
with margin. CI runs seeds 1, 5 and 7, ~55 s each: together they lose every site (production
frozen, remote-dr and same-city killed), by killing and by freezing, and cut every pair of
sites (tests/drills/unit/test_chaos_plan.py). 20 seeds took 19 min of a 67-minute CI run
on 2026-11-30; 12, then 7 (1–7) made room for the docker platform's drills; seeds 2–4
and 6 only repeated a production or remote-dr freeze, and went on the slower machine,
where the whole CI run took 89 minutes.
A deliberately injected bug caught by these seeds is documented in docs/drills.md §7.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from dr_helpers import (
    DR_TIMEOUT,
    REPORTS,
    VERDICT_MAY_MISS_TIMING,
    drill_report,
    expectation,
    explain,
    shared_platform,
    watertight,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.integration,
    pytest.mark.timeout(DR_TIMEOUT),
]
__all__ = ["shared_platform"]

SEEDS = (1, 5, 7)
DURATION_SECONDS = 35
_REPORTS: dict[int, dict[str, Any]] = {}


def run_seed(seed: int, platform: Path) -> dict[str, Any]:
    """Run one seed once per session; later calls return the same report."""
    if seed not in _REPORTS:
        directory = REPORTS / f"chaos-seed-{seed}"
        done = watertight("drill", "chaos", "--seed", str(seed), "--duration",
                          str(DURATION_SECONDS), "--attach", str(platform),
                          "--report-dir", str(directory))  # fmt: skip
        assert (directory / "report.json").exists(), done.stderr[-3000:]
        _REPORTS[seed] = drill_report(directory)
    return _REPORTS[seed]


@pytest.mark.parametrize("seed", SEEDS)
def test_the_chaos_seed_keeps_every_safety_invariant(seed: int, shared_platform: Path) -> None:
    report = run_seed(seed, shared_platform)
    m = report["measurements"]
    assert expectation(report, "rpo_lost_acknowledged")["expected"] == 0
    assert m["rpo_lost_acknowledged"] == 0, explain(report)
    assert m["split_brain"] is False, explain(report)
    assert expectation(report, "double_posting")["passed"], explain(report)


@VERDICT_MAY_MISS_TIMING
@pytest.mark.parametrize("seed", SEEDS)
def test_the_chaos_seed_passes(seed: int, shared_platform: Path) -> None:
    report = run_seed(seed, shared_platform)
    assert report["verdict"] == "pass", explain(report)
