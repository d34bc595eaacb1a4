"""The automated DR test: every standard drill on the local platform, judged by its report.

Each test runs ``watertight drill run NAME --platform local`` (a fresh platform per
drill: drills move primaries, so they must not share one), and asserts on the written
``reports/drills/NAME/report.json``. Drills that need a failover can only pass once the
controller runs; until then they are expected failures (never faked passes).
"""

from __future__ import annotations

from typing import Any

import pytest
from dr_helpers import (
    DR_TIMEOUT,
    NEEDS_CONTROLLER,
    REPORTS,
    drill_report,
    expectation,
    explain,
    watertight,
)

from drills.spec import library, load_spec

pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.timeout(DR_TIMEOUT)]

NEEDS_FAILOVER = (
    "production-outage", "same-city-outage", "production-hang", "unit-crash",
    "city-a-lost", "site-switchover-and-failback", "leader-site-fails",
)  # fmt: skip


def run_library_drill(name: str) -> dict[str, Any]:
    directory = REPORTS / name
    done = watertight("drill", "run", name, "--report-dir", str(directory), "--json")
    assert (directory / "report.json").exists(), done.stderr[-3000:]
    report = drill_report(directory)
    assert done.returncode == (0 if report["verdict"] == "pass" else 1 if
                               report["verdict"] == "fail" else 2)  # fmt: skip
    return report


def params() -> list[Any]:
    return [
        pytest.param(name, marks=[NEEDS_CONTROLLER] if name in NEEDS_FAILOVER else [], id=name)
        for name in library()
    ]


@pytest.mark.parametrize("name", params())
def test_the_library_drill_passes_on_the_local_platform(name: str) -> None:
    report = run_library_drill(name)
    spec = load_spec(library()[name])
    assert report["verdict"] == "pass", explain(report)
    m = report["measurements"]
    assert m["split_brain"] is False
    if spec.expect.rpo_lost_acknowledged != "reported":
        assert m["rpo_lost_acknowledged"] == 0
    if spec.expect.rto_seconds_max is not None:
        assert m["rto_seconds"] is not None
        assert m["rto_seconds"] <= spec.expect.rto_seconds_max
    if spec.expect.expects_no_failover:
        assert m["failovers"] == 0
    assert expectation(report, "rollbacks_succeeded")["passed"]
    assert m["requests"]["ok"] > 0
