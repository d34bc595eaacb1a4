"""The gray-unit drill, pure: its step, its expectation, the lead time and the measured
green probes, and how the report states them."""

from __future__ import annotations

import re
from typing import Any

import pytest
from drill_factory import UNITS, action, found, steady

from drills.controller_event import ControllerEvent
from drills.measure import measure
from drills.report import build_report
from drills.report_markdown import render_markdown
from drills.spec import DrillSpecError, TrendWarningExpect, library, load_spec, parse_spec
from drills.steps import FAULT_ACTIONS, GrayUnit
from drills.trend_lead import judge, trend_lead
from failover.topology import default_topology

FAULT_AT = 25.0
WARNING = ControllerEvent(
    at=36.5, kind="trend-warning", site="same-city", unit="u03",
    detail="u03: decline ratio 0.80 vs baseline 0.02 for 5 s",
)  # fmt: skip
EXPECT = TrendWarningExpect(unit="u03", max_lead_seconds=30)


def drill(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "title": "gray",
        "load": {"rate_per_second": 50, "customers": 400, "duration_seconds": 60,
                 "mix": {"purchase": 1}},
        "method": [{"at": 25, "action": "gray-unit", "unit": "u03", "site": "same-city",
                    "mode": "decline-all"}],
        "expect": {"failovers": {"max": 0}, "trend_warning": {"unit": "u03",
                   "max_lead_seconds": 30}},
    }  # fmt: skip
    document.update(changes)
    return document


def test_a_gray_unit_step_is_a_fault_and_reads_as_its_cli_command() -> None:
    step = GrayUnit.model_validate({"action": "gray-unit", "unit": "u03", "site": "same-city",
                                    "mode": "slow", "delay_ms": 500})  # fmt: skip
    assert step.is_fault and "gray-unit" in FAULT_ACTIONS
    assert step.describe() == "gray-unit u03 --site same-city --mode slow --delay-ms 500"
    declined = GrayUnit.model_validate(
        {"action": "gray-unit", "unit": "u03", "site": "same-city", "mode": "decline-all"}
    )
    assert declined.describe() == "gray-unit u03 --site same-city --mode decline-all"


@pytest.mark.parametrize(
    ("step", "reason"),
    [
        ({"mode": "decline-all", "delay_ms": 500}, "delay_ms is only for mode 'slow'"),
        ({"mode": "slow", "delay_ms": 0}, "greater than 0"),
        ({"mode": "broken"}, "'decline-all' or 'slow'"),
        ({"mode": "slow", "unit": "u99"}, "unknown unit 'u99'"),
    ],
)
def test_a_bad_gray_unit_step_is_refused_naming_the_field(
    step: dict[str, Any], reason: str
) -> None:
    method = [{"at": 25, "action": "gray-unit", "unit": "u03", "site": "same-city", **step}]
    with pytest.raises(DrillSpecError, match=reason) as error:
        parse_spec(drill(method=method), topology=default_topology())
    assert "method[0]" in str(error.value)


def test_drill_trend_settings_are_checked_like_the_topologys() -> None:
    assert parse_spec(drill(trends={"warmup_seconds": 15})).trends == {"warmup_seconds": 15}
    with pytest.raises(DrillSpecError, match=re.escape("trends.warmup: Extra inputs")):
        parse_spec(drill(trends={"warmup": 15}))
    with pytest.raises(DrillSpecError, match="current_half_life_seconds must be below"):
        parse_spec(drill(trends={"current_half_life_seconds": 400}))


def test_the_expected_unit_must_be_a_unit_of_the_topology() -> None:
    expect = {"trend_warning": {"unit": "u99", "max_lead_seconds": 30}}
    with pytest.raises(
        DrillSpecError, match=re.escape("expect.trend_warning.unit: unknown unit 'u99'")
    ):
        parse_spec(drill(expect=expect), topology=default_topology())


def test_the_lead_time_runs_from_the_fault_to_the_first_warning_for_that_unit() -> None:
    events = [
        ControllerEvent(at=20.0, kind="trend-warning", unit="u03", site="same-city"),  # before
        ControllerEvent(at=30.0, kind="trend-warning", site="same-city"),  # the site's
        ControllerEvent(at=31.0, kind="trend-warning", unit="u05", site="same-city"),
        WARNING,
        ControllerEvent(at=40.0, kind="trend-warning", unit="u03", site="same-city"),
    ]
    lead = trend_lead(events, FAULT_AT, "u03")
    assert lead.lead_seconds == 11.5 and lead.probes_green
    assert judge(EXPECT, lead).passed


def test_a_drill_whose_trend_watch_saw_nothing_fails_without_a_lead_time() -> None:
    lead = trend_lead([], FAULT_AT, "u03")
    row = judge(EXPECT, lead)
    assert lead.lead_seconds is None and not row.passed
    assert row.observed == {"lead_seconds": None, "probes_green": True}


def test_a_warning_later_than_the_bound_fails() -> None:
    late = ControllerEvent(at=FAULT_AT + 31, kind="trend-warning", unit="u03", site="same-city")
    assert not judge(EXPECT, trend_lead([late], FAULT_AT, "u03")).passed


@pytest.mark.parametrize(
    "alarm",
    [
        ControllerEvent(at=30.0, kind="site-verdict", site="same-city", detail="suspect"),
        ControllerEvent(at=30.0, kind="site-down", site="same-city"),
        ControllerEvent(at=30.0, kind="promoting", unit="u03", site="production"),
        ControllerEvent(at=30.0, kind="promoted", unit="u03", site="production", epoch=2),
    ],
)
def test_a_verdict_or_a_move_before_the_warning_means_the_probes_were_not_green(
    alarm: ControllerEvent,
) -> None:
    lead = trend_lead([alarm, WARNING], FAULT_AT, "u03")
    assert not lead.probes_green and lead.alarms[0].startswith("30.000 s " + alarm.kind)
    assert not judge(EXPECT, lead).passed


@pytest.mark.parametrize(
    "quiet",
    [
        ControllerEvent(at=30.0, kind="site-verdict", site="production"),  # another site
        ControllerEvent(at=30.0, kind="promoted", unit="u00", site="same-city", epoch=2),
        ControllerEvent(at=20.0, kind="site-verdict", site="same-city"),  # before the fault
        ControllerEvent(at=40.0, kind="site-verdict", site="same-city"),  # after the warning
        ControllerEvent(at=30.0, kind="decision", unit="u03"),
    ],
)
def test_events_about_other_sites_units_or_times_leave_the_probes_green(
    quiet: ControllerEvent,
) -> None:
    assert trend_lead([quiet, WARNING], FAULT_AT, "u03").probes_green


def test_the_report_states_the_load_the_lead_time_green_probes_and_no_failover() -> None:
    spec = load_spec(library()["gray-unit"], default_topology())
    attempts = [a for unit in UNITS for a in steady(unit, 0.0, 60.0)]
    actions = [
        action(FAULT_AT, "gray-unit u03 --site same-city --mode decline-all"),
        action(50.0, "heal"),
    ]
    m = measure(attempts, found(attempts), actions, [WARNING])
    report = build_report(spec, m, actions, [WARNING], platform="local",
                          started_at="2026-11-30T00:00:00+00:00", duration_seconds=60)  # fmt: skip
    row = next(e for e in report.expectations if e.name == "trend_warning")
    assert row.passed and row.observed == {"lead_seconds": 11.5, "probes_green": True}
    assert report.trend_watch is not None and report.trend_watch.lead_seconds == 11.5
    assert report.load is not None and report.load.rate_per_second == 50
    text = render_markdown(report)
    assert "| load | 50 writes/s for 60 s over 400 customers |" in text
    assert "| Lead time: fault → first trend warning for u03 | 11.500 s (u03: decline" in text
    assert "fault → warning | yes |" in text
    assert "| Failovers: promotions (epoch increases) across all units | 0 |" in text
    assert report.verdict == "pass"
