"""Reports: report.json keys (docs/design.md §5 + documented extras), report.md for an auditor,
a self-contained SVG timeline, and the same bytes for the same input."""

from __future__ import annotations

import json
import random
import xml.etree.ElementTree as ET
from pathlib import Path

from drill_factory import action, clean_failover, failing, found

from drills.attempts import Attempt, ReadBack
from drills.controller_event import ControllerEvent
from drills.executed import ExecutedAction
from drills.measure import measure
from drills.report import build_report, write_report
from drills.report_json import (
    DESIGN_KEYS,
    EXTRA_KEYS,
    INTERRUPTION_KEYS,
    Report,
    read_report,
    render_json,
)
from drills.report_markdown import render_markdown, rto_bound_note
from drills.spec import library, load_spec
from drills.timeline import render_svg

SVG = "{http://www.w3.org/2000/svg}"
ACTIONS = [
    action(10.0, "site-down production", until=10.4),
    action(30.0, "site-up production", until=31.0),
    action(40.5, "heal", phase="rollback"),
]
EVENTS = [
    ControllerEvent(at=13.5, kind="site-down", site="production"),
    *[
        ControllerEvent(at=15.0 + i / 10, kind="promoted", unit=u, site="same-city", epoch=2)
        for i, u in enumerate(["u00", "u02", "u04", "u06"])
    ],
]


def report_of(
    attempts: list[Attempt],
    read_backs: list[ReadBack] | None = None,
    actions: list[ExecutedAction] | None = None,
    abort_reason: str = "",
    retries_refused: int = 0,
) -> Report:
    spec = load_spec(library()["production-outage"])
    actions = ACTIONS if actions is None else actions
    read_backs = found(attempts) if read_backs is None else read_backs
    m = measure(attempts, read_backs, actions, EVENTS, retries_refused=retries_refused)
    return build_report(
        spec,
        m,
        actions,
        EVENTS,
        platform="local",
        started_at="2026-11-23T08:00:00Z",
        duration_seconds=41.0,
        abort_reason=abort_reason,
    )


def test_report_json_has_exactly_the_documented_keys() -> None:
    document = json.loads(render_json(report_of(clean_failover())))
    assert list(document)[: len(DESIGN_KEYS)] == list(DESIGN_KEYS)
    assert set(document) == set(DESIGN_KEYS) | set(EXTRA_KEYS)
    assert set(document["measurements"]) == {
        "detection_seconds",
        "rto_seconds",
        "rto_by_unit",
        "rpo_lost_acknowledged",
        "requests",
        "split_brain",
        "failovers",
        "interruption_by_unit",
        "longest_interruption_seconds",
        "survivors_interruption_seconds_max",
    }
    assert list(document["measurements"])[-3:] == list(INTERRUPTION_KEYS)
    assert set(document["measurements"]["requests"]) == {"total", "ok", "failed"}
    for row in document["expectations"]:
        assert set(row) == {"name", "expected", "observed", "passed"}
    assert document["verdict"] in {"pass", "fail", "aborted"}


def test_a_clean_failover_report_passes_with_its_numbers() -> None:
    document = json.loads(render_json(report_of(clean_failover())))
    assert document["verdict"] == "pass"
    assert document["drill"] == "production-outage"
    measured = document["measurements"]
    assert measured["rto_seconds"] == 6.02
    assert measured["detection_seconds"] == 3.5
    assert measured["failovers"] == 4
    assert measured["rpo_lost_acknowledged"] == 0
    assert sorted(measured["rto_by_unit"]) == ["u00", "u02", "u04", "u06"]


def test_a_lost_write_fails_the_report_and_is_listed_as_evidence() -> None:
    attempts = clean_failover()
    key = next(a.idempotency_key for a in attempts if a.ok)
    report = report_of(attempts, found(attempts, drop=(key,)))
    assert report.verdict == "fail"
    assert report.measurements.rpo_lost_acknowledged == 1
    assert report.evidence.lost_writes == [[attempts[0].customer_id, key]]
    assert key in render_markdown(report)


def test_an_aborted_drill_reports_aborted_and_why() -> None:
    report = report_of(clean_failover(), abort_reason="error rate 0.95 above 0.9 for 15 s")
    assert report.verdict == "aborted"
    assert "aborted: error rate 0.95" in render_markdown(report)


def test_the_same_input_gives_the_same_bytes_whatever_its_order() -> None:
    attempts = clean_failover() + failing("u03", 12, 14)
    shuffled = attempts[:]
    random.Random(7).shuffle(shuffled)
    first, second = report_of(attempts), report_of(shuffled, found(attempts)[::-1])
    assert render_json(first) == render_json(second)
    assert render_markdown(first) == render_markdown(second)
    assert render_svg(first.timeline, first.title) == render_svg(second.timeline, second.title)


def test_report_json_reads_back_into_the_same_report(tmp_path: Path) -> None:
    report = report_of(clean_failover())
    files = write_report(report, tmp_path / "out")
    assert read_report(files.json) == report
    assert files.markdown.read_text() == render_markdown(report)


def test_retries_the_budget_did_not_send_are_reported_and_old_reports_still_read(
    tmp_path: Path,
) -> None:
    report = report_of(clean_failover(), retries_refused=17)
    assert report.evidence.retries_refused == 17
    assert "failed; 17 retries not sent (retry budget) |" in render_markdown(report)
    files = write_report(report, tmp_path / "out")
    document = json.loads(files.json.read_text())
    del document["evidence"]["retries_refused"]  # as written before the budget existed
    files.json.write_text(json.dumps(document))
    assert read_report(files.json).evidence.retries_refused == 0


def test_the_markdown_says_what_was_done_measured_and_judged() -> None:
    text = render_markdown(report_of(clean_failover()))
    assert "**Verdict: PASS**" in text
    for heading in ("## What was done", "## What was measured", "## Expectations"):
        assert heading in text
    assert "| 10.000 | 10.400 | method | `site-down production` | ok |" in text
    assert "| rto_seconds_max | 8.0 | 6.02 | pass |" in text
    assert "| survivors_interruption_seconds_max | 1.0 | 0.0 | pass |" in text
    assert "| failovers | min 4, max 4 | 4 | pass |" in text
    assert "![success rate and p99 latency over time](timeline.svg)" in text


def test_the_timeline_svg_parses_and_needs_nothing_from_the_network() -> None:
    report = report_of(clean_failover())
    svg = render_svg(report.timeline, report.title)
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    assert "<script" not in svg
    assert "href" not in svg
    assert len(root.findall(f"{SVG}polyline")) >= 2  # success rate and latency
    kinds = {m.kind for m in report.timeline.markers}
    assert {"fault", "detection", "promotion", "recovery", "repair"} <= kinds


def test_the_timeline_escapes_text_and_survives_an_empty_drill() -> None:
    report = report_of([], [], [ExecutedAction("heal", "heal <&>", 1.0, 1.1)])
    svg = render_svg(report.timeline, 'A "drill" <with> & odd text')
    ET.fromstring(svg)
    assert report.measurements.requests.total == 0


def test_the_recovery_marker_sits_at_fault_time_plus_rto() -> None:
    report = report_of(clean_failover())
    (recovery,) = [m for m in report.timeline.markers if m.kind == "recovery"]
    assert recovery.at == 16.02


def test_the_report_states_every_units_interruption_and_the_survivors_longest() -> None:
    attempts = [a for a in clean_failover() if not (a.unit == "u03" and 12 <= a.sent_at < 12.5)]
    attempts += failing("u03", 12, 12.5)
    document = json.loads(render_json(report_of(attempts)))
    measured = document["measurements"]
    assert measured["interruption_by_unit"] == {
        "u00": 6.02, "u01": 0.0, "u02": 6.02, "u03": 0.52,
        "u04": 6.02, "u05": 0.0, "u06": 6.02, "u07": 0.0,
    }  # fmt: skip
    assert measured["longest_interruption_seconds"] == 6.02
    assert measured["survivors_interruption_seconds_max"] == 0.52
    assert document["verdict"] == "pass"


def test_a_survivor_interrupted_too_long_fails_the_report_and_shows_in_the_unit_table() -> None:
    attempts = [a for a in clean_failover() if not (a.unit == "u03" and 12 <= a.sent_at < 14)]
    attempts += failing("u03", 12, 14)
    report = report_of(attempts)
    assert report.verdict == "fail"
    text = render_markdown(report)
    assert "| survivors_interruption_seconds_max | 1.0 | 2.02 | **FAIL** |" in text
    assert "| unit | moved | longest interruption | RTO |" in text
    assert "| u00 | yes | 6.020 s | 6.020 s |" in text
    # u03's RTO counts from the fault (10 s), its interruption from its first failure (12 s)
    assert "| u03 | no | 2.020 s | 4.020 s |" in text
    assert "| u05 | no | 0.000 s | — |" in text
    survivors = "Longest write interruption of a unit that did not move (changed no primary)"
    assert f"| {survivors} | 2.020 s |" in text


def test_a_unit_that_never_recovered_reads_not_recovered_in_the_report() -> None:
    attempts = clean_failover() + failing("u03", 30, 32)
    report = report_of(attempts)
    assert report.measurements.interruption_by_unit["u03"] is None
    assert report.measurements.longest_interruption_seconds is None
    text = render_markdown(report)
    assert "| u03 | no | not recovered | not recovered |" in text


def without_rto_bound(report: Report) -> Report:
    kept = [e for e in report.expectations if e.name != "rto_seconds_max"]
    return report.model_copy(update={"expectations": kept})


def test_the_measured_rto_is_shown_with_its_bound_or_saying_there_is_none() -> None:
    bounded = report_of(clean_failover())
    assert rto_bound_note(bounded) == " (bound 8 s)"
    assert "(max over units) | 6.020 s (bound 8 s) |" in render_markdown(bounded)
    unbounded = without_rto_bound(bounded)
    assert rto_bound_note(unbounded) == " (no bound set)"
    assert "(max over units) | 6.020 s (no bound set) |" in render_markdown(unbounded)
