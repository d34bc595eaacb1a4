"""Chaos plans: reproducible by seed, one fault at a time, always repaired, invariants only."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from drills.chaos import MIN_DURATION_SECONDS, QUIET_TAIL_SECONDS, plan_chaos
from failover.topology import default_topology

TOPOLOGY = default_topology()
REPAIRS = {"site-up", "heal"}


def test_the_same_seed_gives_the_same_drill_and_another_seed_another() -> None:
    assert plan_chaos(3, 40, TOPOLOGY) == plan_chaos(3, 40, TOPOLOGY)
    plans = {tuple(s.describe() for s in plan_chaos(seed, 40, TOPOLOGY).method)
             for seed in range(20)}  # fmt: skip
    assert len(plans) > 10


@pytest.mark.parametrize("seed", range(30))
def test_every_fault_is_repaired_before_the_next_and_before_the_quiet_tail(seed: int) -> None:
    spec = plan_chaos(seed, 40, TOPOLOGY)
    kinds = [s.name for s in spec.method]
    assert kinds, "a chaos drill injects at least one fault"
    assert all(k not in REPAIRS for k in kinds[0::2])
    assert all(k in REPAIRS for k in kinds[1::2])
    assert all((s.at or 0) <= 40 - QUIET_TAIL_SECONDS for s in spec.method)
    assert [s.name for s in spec.rollbacks][-1] == "heal"


def test_chaos_judges_invariants_not_timings() -> None:
    expect = plan_chaos(1, 30, TOPOLOGY).expect
    assert expect.rpo_lost_acknowledged == 0
    assert expect.rto_seconds_max is None
    assert expect.failovers is None


def test_a_chaos_drill_too_short_for_a_fault_and_a_recovery_is_refused() -> None:
    with pytest.raises(ValueError, match="at least"):
        plan_chaos(1, MIN_DURATION_SECONDS - 1, TOPOLOGY)


def test_the_documented_injected_bug_still_applies_to_this_tree() -> None:
    # docs/drills.md §7 tells how a seed caught it; the patch must not rot silently.
    repo = Path(__file__).resolve().parents[3]
    patch = repo / "tests" / "drills" / "injected_bugs" / "standby-drops-payments.patch"
    check = subprocess.run(
        ["git", "apply", "--check", str(patch)], cwd=repo, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stderr


@pytest.mark.parametrize("seed", range(30))
def test_the_rollbacks_repair_every_fault_the_method_injects(seed: int) -> None:
    spec = plan_chaos(seed, 60, TOPOLOGY)
    rollbacks = [s.describe() for s in spec.rollbacks]
    for repair in (s for s in spec.method if s.name in REPAIRS):
        assert repair.describe() in rollbacks
    assert rollbacks[-1] == "heal"
