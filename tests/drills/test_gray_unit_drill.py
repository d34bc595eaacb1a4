"""The gray-unit drills on the real local platform, through the CLI as a user runs them:
u03's primary declines every write (``gray-unit``), or u02's answers every write 500 ms
late (``gray-unit-slow``), while its probes stay green; the trend watch must warn for
that unit (lead time reported and bounded), with no site verdict or move before the
warning, and nothing may fail over. Without the warning the drill fails, and so does
this test.

The runs are the DR suite's own (``dr_helpers.library_drill_report``: one run per drill
and session, which test_library_drills.py judges too), so CI pays for each gray drill
once. Like the library drills, a run whose verdict misses for a reason outside the gray
checks — aborted before the fault, a steady-state or serving row lost to a stall of the
shared 2 cores — runs once more on a fresh platform (``<drill>-second-run``) and must
pass there; the first report stays. A run in which the trend watch missed the fault,
warned late, saw alarms or anything moved is never run again: that is the finding. Slow."""

from __future__ import annotations

from typing import Any

import pytest
from dr_helpers import (
    DR_RATE,
    DR_TIMEOUT,
    dr_library,
    expectation,
    explain,
    library_drill_report,
)

pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.timeout(2 * DR_TIMEOUT)]

GRAY = {
    "gray-unit": ("u03", "declines every write"),
    "gray-unit-slow": ("u02", "delays every write by 500 ms"),
}
#: The rows that judge the gray fault itself: a miss here is never retried.
GRAY_ROWS = ("trend_warning", "failovers", "false_failovers", "rpo_lost_acknowledged")


def run(drill: str, suffix: str = "") -> dict[str, Any]:
    report = library_drill_report(drill, suffix)
    trend = report["trend_watch"]
    print(f"{drill}{suffix}: lead {trend['lead_seconds']} s ({trend['reason']}), "
          f"load {report['load']}, verdict {report['verdict']}")  # fmt: skip
    return report


def gray_checks_ran_and_failed(report: dict[str, Any]) -> bool:
    return not report["abort_reason"] and any(
        not row["passed"] for row in report["expectations"] if row["name"] in GRAY_ROWS
    )


@pytest.mark.parametrize("drill", [name for name in dr_library() if name in GRAY])
def test_the_gray_unit_drill_warns_for_the_unit_with_green_probes_and_moves_nothing(
    drill: str,
) -> None:
    unit, effect = GRAY[drill]
    report = run(drill)
    if report["verdict"] != "pass" and not gray_checks_ran_and_failed(report):
        print(f"{drill}: first run {explain(report)}; once more on a fresh platform")
        report = run(drill, "-second-run")
    # An aborted drill (a cold or starved platform failing the steady state before the
    # fault) says nothing about the trend watch: say why instead of "no warning".
    assert not report["abort_reason"], explain(report)
    trend = report["trend_watch"]
    # The trend watch caught it: a warning for the unit after the fault, within the bound.
    assert trend["unit"] == unit and trend["warned_at"] is not None, trend
    assert 0 <= trend["lead_seconds"] <= 30, trend
    # Measured: no site verdict or move for the unit or its site between fault and warning.
    assert trend["probes_green"] and trend["alarms"] == [], trend
    assert expectation(report, "trend_warning")["passed"], explain(report)
    # Nothing moved: no promotion, no epoch change seen by any client.
    assert report["measurements"]["failovers"] == 0, report["evidence"]["failovers_by_unit"]
    assert expectation(report, "rpo_lost_acknowledged")["passed"], explain(report)
    assert report["load"]["rate_per_second"] == DR_RATE
    # The fault was taken by the instance (its answer is in the action's detail), and the
    # method's heal cleared it.
    fault = next(a for a in report["actions"] if a["command"].startswith(f"gray-unit {unit}"))
    assert fault["ok"] and effect in fault["detail"], fault
    heal = next(a for a in report["actions"] if a["phase"] == "method" and a["command"] == "heal")
    assert f"gray fault cleared on {unit} in " in heal["detail"], heal
    assert report["verdict"] == "pass", explain(report)
