"""Chaos plans: reproducible by seed, site losses mixed with cuts, at most one site lost
at a time, always repaired, valid drill specs, invariants only."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from drills.chaos import (
    MIN_DURATION_SECONDS,
    QUIET_TAIL_SECONDS,
    WARM_UP_SECONDS,
    chaos_document,
    plan_chaos,
)
from drills.spec import DrillSpec, load_spec
from drills.steps import Heal, Partition, SiteDown, SiteHang, SiteUp
from failover.topology import default_topology

TOPOLOGY = default_topology()
REPAIRS = {"site-up", "heal"}
LOSSES = {"site-down", "site-hang"}
CITY_A_TO_REMOTE = [{"production", "remote-dr"}, {"same-city", "remote-dr"}]
CI_SEEDS, CI_DURATION = (1, 5, 7), 35  # as tests/drills/test_chaos_seeds.py runs them


def states(spec: DrillSpec) -> Iterator[tuple[set[str], set[frozenset[str]]]]:
    """After each method step: the sites lost and the links cut."""
    lost: set[str] = set()
    cut: set[frozenset[str]] = set()
    for step in spec.method:
        if isinstance(step, SiteDown | SiteHang):
            lost.add(step.site)
        elif isinstance(step, SiteUp):
            lost.discard(step.site)
        elif isinstance(step, Partition):
            cut.add(frozenset((step.a, step.b)))
        elif isinstance(step, Heal):
            cut.clear()
        else:
            raise AssertionError(f"a chaos step outside its vocabulary: {step.describe()}")
        yield set(lost), set(cut)


def test_the_same_seed_gives_the_same_drill_and_another_seed_another() -> None:
    assert plan_chaos(3, 40, TOPOLOGY) == plan_chaos(3, 40, TOPOLOGY)
    plans = {tuple(s.describe() for s in plan_chaos(seed, 40, TOPOLOGY).method)
             for seed in range(20)}  # fmt: skip
    assert len(plans) > 10


@pytest.mark.parametrize("seed", range(30))
def test_every_fault_is_repaired_before_the_quiet_tail(seed: int) -> None:
    spec = plan_chaos(seed, 40, TOPOLOGY)
    kinds = [s.name for s in spec.method]
    assert kinds, "a chaos drill injects at least one fault"
    assert kinds[0] not in REPAIRS
    assert all((s.at or 0) <= 40 - QUIET_TAIL_SECONDS for s in spec.method)
    assert list(states(spec))[-1] == (set(), set())
    assert [s.name for s in spec.rollbacks][-1] == "heal"


def test_the_seeds_lose_every_site_and_cut_every_link_including_city_a_to_remote_dr() -> None:
    lost_sites: set[str] = set()
    cut_links: set[frozenset[str]] = set()
    for seed in CI_SEEDS:
        for lost, cut in states(plan_chaos(seed, CI_DURATION, TOPOLOGY)):
            lost_sites |= lost
            cut_links |= cut
    assert lost_sites == set(TOPOLOGY.site_names)
    assert cut_links >= {frozenset(pair) for pair in CITY_A_TO_REMOTE}
    assert len(cut_links) == 3


def test_a_seed_loses_sites_both_by_killing_and_by_freezing_them() -> None:
    kinds = {s.name for seed in CI_SEEDS for s in plan_chaos(seed, CI_DURATION, TOPOLOGY).method}
    assert kinds >= LOSSES


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


# --- properties ---------------------------------------------------------------------------

seeds = st.integers(min_value=0, max_value=2**32 - 1)
durations = st.floats(min_value=MIN_DURATION_SECONDS, max_value=150, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(seeds, durations)
def test_no_plan_ever_has_two_sites_lost_at_once(seed: int, duration: float) -> None:
    assert all(len(lost) <= 1 for lost, _ in states(plan_chaos(seed, duration, TOPOLOGY)))


@settings(max_examples=200, deadline=None)
@given(seeds, durations)
def test_every_plan_loses_a_site_while_a_link_is_cut(seed: int, duration: float) -> None:
    assert any(lost and cut for lost, cut in states(plan_chaos(seed, duration, TOPOLOGY)))


@settings(max_examples=200, deadline=None)
@given(seeds, durations)
def test_every_plan_heals_everything_before_the_quiet_tail_and_in_its_rollbacks(
    seed: int, duration: float
) -> None:
    spec = plan_chaos(seed, duration, TOPOLOGY)
    assert spec.method, "a chaos drill injects at least one fault"
    assert (spec.method[0].at or 0) >= WARM_UP_SECONDS
    assert all((s.at or 0) <= duration - QUIET_TAIL_SECONDS for s in spec.method)
    assert list(states(spec))[-1] == (set(), set())
    lost_ever = {site for lost, _ in states(spec) for site in lost}
    rollbacks = [s.describe() for s in spec.rollbacks]
    assert rollbacks[-1] == "heal"
    assert sorted(rollbacks[:-1]) == sorted(f"site-up {site}" for site in lost_ever)


@settings(max_examples=100, deadline=None)
@given(seed=seeds, duration=durations)
def test_every_plan_validates_as_a_drill_file(
    seed: int, duration: float, tmp_path_factory: pytest.TempPathFactory
) -> None:
    path = tmp_path_factory.mktemp("chaos") / f"chaos-seed-{seed}.yaml"
    path.write_text(yaml.safe_dump(chaos_document(seed, duration, TOPOLOGY)))
    assert load_spec(path, TOPOLOGY) == plan_chaos(seed, duration, TOPOLOGY)
