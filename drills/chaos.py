"""Randomized fault matrix: a drill whose method is a random sequence of faults and heals.

:func:`plan_chaos` turns a seed into an ordinary :class:`~drills.spec.DrillSpec` (pure:
the same seed and duration always give the same drill, so a failing seed is replayed
with ``watertight drill chaos --seed N --duration S``). The runner runs it like any
other drill; only invariants are judged, never timings:

- no acknowledged write lost (``rpo_lost_acknowledged: 0``) — one fault at a time, so
  city A always keeps a site and every failover stays inside city A;
- no split brain and no double posting (always judged);
- every unit serving again after the last repair (``all_units_recover`` and an
  ``all-units-serving`` steady-state probe over the quiet tail of the load).

The vocabulary is the library's: ``site-down``/``site-hang`` repaired by ``site-up``,
``partition`` and ``slow`` repaired by ``heal``, ``unit-crash`` repaired by ``site-up``
of its site (which restarts dead processes as standbys).
"""

from __future__ import annotations

import random
from typing import Any

from drills.spec import DrillSpec, parse_spec
from failover.topology import Topology

WARM_UP_SECONDS = 6.0
QUIET_TAIL_SECONDS = 15.0
MIN_DURATION_SECONDS = WARM_UP_SECONDS + QUIET_TAIL_SECONDS + 4.0
FAULTS = ("site-down", "site-hang", "partition", "slow", "unit-crash")


def _fault(rng: random.Random, topology: Topology) -> tuple[dict[str, Any], dict[str, Any]]:
    """One fault and the step that repairs it (both without ``at``)."""
    sites = list(topology.site_names)
    kind = rng.choice(FAULTS)
    if kind in ("site-down", "site-hang"):
        site = rng.choice(sites)
        return {"action": kind, "site": site}, {"action": "site-up", "site": site}
    if kind == "partition":
        a, b = rng.sample(sites, 2)
        return {"action": "partition", "a": a, "b": b}, {"action": "heal"}
    if kind == "slow":
        site = rng.choice(sites)
        return {"action": "slow", "site": site, "ms": rng.choice((50, 100, 200))}, {
            "action": "heal"
        }
    unit = rng.choice(list(topology.units))
    site = rng.choice(sites)
    return {"action": "unit-crash", "unit": unit, "site": site}, {"action": "site-up", "site": site}


def chaos_method(seed: int, duration: float, topology: Topology) -> list[dict[str, Any]]:
    """Faults and repairs, one fault at a time, all within ``[warm-up, end - quiet tail]``."""
    rng = random.Random(seed)
    last = duration - QUIET_TAIL_SECONDS
    steps: list[dict[str, Any]] = []
    t = WARM_UP_SECONDS
    while t + 3.0 <= last:
        fault, repair = _fault(rng, topology)
        repair_at = min(last, t + rng.uniform(3.0, 8.0))
        steps.append({"at": round(t, 1), **fault})
        steps.append({"at": round(repair_at, 1), **repair})
        t = repair_at + rng.uniform(4.0, 8.0)
    return steps


def chaos_rollbacks(method: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The method's own repairs once each (a ``site-up`` per site it touches), then
    ``heal``: an abort at any point still leaves the topology whole, and a seed does not
    spend a CLI call on sites it never touched (20 seeds run in CI's time)."""
    sites = dict.fromkeys(step["site"] for step in method if step["action"] == "site-up")
    return [*({"action": "site-up", "site": site} for site in sites), {"action": "heal"}]


def plan_chaos(
    seed: int,
    duration: float,
    topology: Topology,
    rate_per_second: float = 10.0,
    customers: int = 100,
) -> DrillSpec:
    """The chaos drill of ``seed``: ``duration`` seconds of load (at least
    :data:`MIN_DURATION_SECONDS`), faults and repairs, invariants only."""
    if duration < MIN_DURATION_SECONDS:
        raise ValueError(f"chaos needs a duration of at least {MIN_DURATION_SECONDS:g} s")
    method = chaos_method(seed, duration, topology)
    document = {
        "name": f"chaos-seed-{seed}",
        "title": f"Chaos: random faults and heals (seed {seed}, {duration:g} s)",
        "description": "Random faults from the library vocabulary, one at a time; only "
        "invariants are judged (no lost acknowledged write, no split brain, no double "
        "posting, every unit serving again after the heal). Replay: "
        f"`watertight drill chaos --seed {seed} --duration {duration:g}`.",
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
    return parse_spec(document, source=f"<chaos seed {seed}>", topology=topology)
