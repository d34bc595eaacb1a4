"""The automated DR test: every standard drill on the local platform, judged by its report.

Each drill runs once (``watertight drill run NAME``, a fresh platform per drill: drills
move primaries, so they must not share one) and its ``reports/drills/NAME/report.json``
is judged twice:

- the **safety invariants** (DESIGN §3.1–3.3) strictly: no split brain (one writable
  primary), no double posting, nothing acknowledged lost where the drill promises
  RPO 0, rollbacks that ran. These must hold on any machine, however loaded.
- the **full verdict** (RTO bounds, steady state, every unit serving at the end, and
  zero failovers where none is expected) as a known-flaky expectation: it depends on
  the machine (see ``dr_helpers``). Zero failovers belongs here, not above, because on
  a saturated machine a primary can miss its lease keepalives and be re-promoted in its
  own site at a new epoch — an availability defect (counted as a failover, reported),
  not a second writable copy.
"""

from __future__ import annotations

from typing import Any

import pytest
from dr_helpers import (
    DR_TIMEOUT,
    REPORTS,
    VERDICT_MAY_MISS_TIMING,
    drill_report,
    expectation,
    explain,
    watertight,
)

from drills.spec import library, load_spec

pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.timeout(DR_TIMEOUT)]

_REPORTS: dict[str, dict[str, Any]] = {}


def run_library_drill(name: str) -> dict[str, Any]:
    """Run the drill once per session; later calls return the same report."""
    if name in _REPORTS:
        return _REPORTS[name]
    directory = REPORTS / name
    done = watertight("drill", "run", name, "--report-dir", str(directory), "--json")
    assert (directory / "report.json").exists(), done.stderr[-3000:]
    report = drill_report(directory)
    assert done.returncode == (0 if report["verdict"] == "pass" else 1 if
                               report["verdict"] == "fail" else 2)  # fmt: skip
    _REPORTS[name] = report
    return report


@pytest.mark.parametrize("name", sorted(library()))
def test_the_library_drill_keeps_every_safety_invariant(name: str) -> None:
    report = run_library_drill(name)
    spec = load_spec(library()[name])
    m = report["measurements"]
    assert m["split_brain"] is False, explain(report)
    assert expectation(report, "double_posting")["passed"], explain(report)
    if spec.expect.rpo_lost_acknowledged != "reported":
        assert m["rpo_lost_acknowledged"] == 0, explain(report)
    assert expectation(report, "rollbacks_succeeded")["passed"], explain(report)
    assert m["requests"]["ok"] > 0


@VERDICT_MAY_MISS_TIMING
@pytest.mark.parametrize("name", sorted(library()))
def test_the_library_drill_passes_on_the_local_platform(name: str) -> None:
    report = run_library_drill(name)
    spec = load_spec(library()[name])
    assert report["verdict"] == "pass", explain(report)
    if spec.expect.expects_no_failover:
        assert report["measurements"]["failovers"] == 0
    if spec.expect.rto_seconds_max is not None:
        assert report["measurements"]["rto_seconds"] is not None
        assert report["measurements"]["rto_seconds"] <= spec.expect.rto_seconds_max
