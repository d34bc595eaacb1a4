"""Randomized fault matrix: a drill whose method is a random mix of site losses and cuts.

:func:`plan_chaos` turns a seed into an ordinary :class:`~drills.spec.DrillSpec` (pure:
the same seed and duration always give the same drill, so a failing seed is replayed
with ``watertight drill chaos --seed N --duration S``). The runner runs it like any
other drill; only invariants are judged, never timings.

The method is a sequence of *episodes*. Each episode loses one site (``site-down`` or
``site-hang``, any of the three sites) and cuts one link (``partition``, any pair of
sites, city A ⟷ remote-dr included), the two overlapping in random order; then repairs
both (``site-up`` of the lost site, ``heal``) in random order. The next episode starts
only once both are repaired, so **at most one site is lost at a time**. Quorum commit
keeps every acknowledged write on two sites, so one lost site loses nothing; a cut loses
no copy. Hence the invariants, judged strictly:

- no acknowledged write lost (``rpo_lost_acknowledged: 0``);
- no split brain and no double posting (always judged);
- every unit serving again after the last repair (``all_units_recover`` and an
  ``all-units-serving`` steady-state probe over the quiet tail of the load).
"""

from __future__ import annotations

import math
import random
from typing import Any

from drills.spec import DrillSpec, parse_spec
from drills.steps import REPAIR_ACTIONS
from failover.topology import Topology

WARM_UP_SECONDS = 6.0
QUIET_TAIL_SECONDS = 15.0
EPISODE_SECONDS = 8.0
"""The room an episode needs before the quiet tail: its second fault comes 1–3 s after
the first, and each repair 4–8 s after its fault (cut short by the quiet tail)."""
MIN_DURATION_SECONDS = WARM_UP_SECONDS + EPISODE_SECONDS + QUIET_TAIL_SECONDS
LOSSES = ("site-down", "site-hang")


def _episode(
    rng: random.Random, topology: Topology, start: float, last: float
) -> list[tuple[float, dict[str, Any]]]:
    """One site loss and one cut, overlapping, each repaired by ``last``: timed steps
    ``(at, step)`` in time order (repairs after both faults)."""
    sites = list(topology.site_names)
    lost = rng.choice(sites)
    a, b = rng.sample(sites, 2)
    faults = [
        ({"action": rng.choice(LOSSES), "site": lost}, {"action": "site-up", "site": lost}),
        ({"action": "partition", "a": a, "b": b}, {"action": "heal"}),
    ]
    rng.shuffle(faults)
    timed: list[tuple[float, dict[str, Any]]] = []
    for i, (fault, repair) in enumerate(faults):
        fault_at = start if i == 0 else start + rng.uniform(1.0, 3.0)
        timed.append((round(fault_at, 1), fault))
        timed.append((round(min(last, fault_at + rng.uniform(4.0, 8.0)), 1), repair))
    return sorted(timed, key=lambda step: (step[0], step[1]["action"] in REPAIR_ACTIONS))


def chaos_method(seed: int, duration: float, topology: Topology) -> list[dict[str, Any]]:
    """Episodes (see the module docstring) within ``[warm-up, end - quiet tail]``, 4–8 s
    apart; at least one, given :data:`MIN_DURATION_SECONDS`."""
    rng = random.Random(seed)
    last = math.floor((duration - QUIET_TAIL_SECONDS) * 10) / 10  # steps are on 0.1 s
    steps: list[dict[str, Any]] = []
    t = WARM_UP_SECONDS
    while t + EPISODE_SECONDS <= last:
        timed = _episode(rng, topology, t, last)
        steps.extend({"at": at, **step} for at, step in timed)
        t = timed[-1][0] + rng.uniform(4.0, 8.0)
    return steps


def chaos_rollbacks(method: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The method's own repairs once each (a ``site-up`` per site it touches), then
    ``heal``: an abort at any point still leaves the topology whole, and a seed does not
    spend a CLI call on sites it never touched (20 seeds run in CI's time)."""
    sites = dict.fromkeys(step["site"] for step in method if step["action"] == "site-up")
    return [*({"action": "site-up", "site": site} for site in sites), {"action": "heal"}]


def chaos_document(
    seed: int,
    duration: float,
    topology: Topology,
    rate_per_second: float = 10.0,
    customers: int = 100,
) -> dict[str, Any]:
    """The chaos drill of ``seed`` as a drill document (what a YAML file would hold)."""
    method = chaos_method(seed, duration, topology)
    return {
        "name": f"chaos-seed-{seed}",
        "title": f"Chaos: random site losses and cuts (seed {seed}, {duration:g} s)",
        "description": "Random episodes of one site lost and one link cut, overlapping, "
        "at most one site lost at a time; only invariants are judged (no lost "
        "acknowledged write, no split brain, no double posting, every unit serving again "
        f"after the heal). Replay: `watertight drill chaos --seed {seed} "
        f"--duration {duration:g}`.",
        "load": {
            "rate_per_second": rate_per_second,
            "customers": customers,
            "duration_seconds": duration,
            "mix": {"purchase": 0.8, "payment": 0.15, "refund": 0.05},
        },
        "steady_state": [{"probe": "all-units-serving", "window_seconds": 5}],
        "method": method,
        "expect": {"rpo_lost_acknowledged": 0, "split_brain": False, "double_posting": False},
        "rollbacks": chaos_rollbacks(method),
    }


def plan_chaos(
    seed: int,
    duration: float,
    topology: Topology,
    rate_per_second: float = 10.0,
    customers: int = 100,
) -> DrillSpec:
    """The chaos drill of ``seed``: ``duration`` seconds of load (at least
    :data:`MIN_DURATION_SECONDS`), episodes of faults and repairs, invariants only."""
    if duration < MIN_DURATION_SECONDS:
        raise ValueError(f"chaos needs a duration of at least {MIN_DURATION_SECONDS:g} s")
    document = chaos_document(seed, duration, topology, rate_per_second, customers)
    return parse_spec(document, source=f"<chaos seed {seed}>", topology=topology)
