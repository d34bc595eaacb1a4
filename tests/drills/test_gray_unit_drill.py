"""The gray-unit drills on the real local platform, through the CLI as a user runs them:
u03's primary declines every write (``gray-unit``), or u02's answers every write 500 ms
late (``gray-unit-slow``), while its probes stay green; the trend watch must warn for
that unit (lead time reported and bounded), with no site verdict or move before the
warning, and nothing may fail over. Without the warning the drill fails, and so does
this test. Slow."""

from __future__ import annotations

import pytest
from dr_helpers import DR_TIMEOUT, REPORTS, drill_report, expectation, explain, watertight

pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.timeout(DR_TIMEOUT)]


GRAY = {
    "gray-unit": ("u03", "declines every write"),
    "gray-unit-slow": ("u02", "delays every write by 500 ms"),
}


@pytest.mark.parametrize("drill", sorted(GRAY))
def test_the_gray_unit_drill_warns_for_the_unit_with_green_probes_and_moves_nothing(
    drill: str,
) -> None:
    unit, effect = GRAY[drill]
    directory = REPORTS / f"{drill}-integration"
    done = watertight("drill", "run", drill, "--report-dir", str(directory), "--json")
    assert (directory / "report.json").exists(), done.stderr[-3000:]
    report = drill_report(directory)
    trend = report["trend_watch"]
    print(f"{drill}: lead {trend['lead_seconds']} s ({trend['reason']}), "
          f"load {report['load']}, verdict {report['verdict']}")  # fmt: skip
    # An aborted drill (a cold or starved platform failing the steady state before the
    # fault) says nothing about the trend watch: say why instead of "no warning".
    assert not report["abort_reason"], explain(report)
    # The trend watch caught it: a warning for u03 after the fault, within the bound.
    assert trend["unit"] == unit and trend["warned_at"] is not None, trend
    assert 0 <= trend["lead_seconds"] <= 30, trend
    # Measured: no site verdict or move for u03 or its site between fault and warning.
    assert trend["probes_green"] and trend["alarms"] == [], trend
    assert expectation(report, "trend_warning")["passed"], explain(report)
    # Nothing moved: no promotion, no epoch change seen by any client.
    assert report["measurements"]["failovers"] == 0, report["evidence"]["failovers_by_unit"]
    assert expectation(report, "rpo_lost_acknowledged")["passed"], explain(report)
    assert report["load"]["rate_per_second"] >= 50
    # The fault was taken by the instance (its answer is in the action's detail).
    fault = next(a for a in report["actions"] if a["command"].startswith(f"gray-unit {unit}"))
    assert fault["ok"] and effect in fault["detail"], fault
    heal = next(a for a in report["actions"] if a["phase"] == "method" and a["command"] == "heal")
    assert f"gray fault cleared on {unit} in " in heal["detail"], heal
    assert report["verdict"] == "pass", explain(report)
    assert done.returncode == 0, done.stderr[-3000:]
