"""Assembling a drill report and writing its three files (docs/drills.md §5).

:func:`build_report` judges the measurements against the spec and assembles a
:class:`~drills.report_json.Report` (the document, :mod:`drills.report_json`);
:func:`write_report` writes the three files, each rendered from the report alone
(:mod:`drills.report_json`, :mod:`drills.report_markdown`, :mod:`drills.timeline`), so a
``report.json`` can be re-rendered later (:func:`~drills.report_json.read_report`). Pure
apart from the file writes; the runner supplies the wall-clock ``started_at``. Same
input, same bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drills.controller_event import ControllerEvent
from drills.executed import ExecutedAction
from drills.expectations import ExpectationResult, evaluate, verdict
from drills.measure import Measurements
from drills.report_json import (
    MAX_LISTED,
    ActionJson,
    EventJson,
    Evidence,
    ExpectationJson,
    MeasurementsJson,
    Report,
    RequestCounts,
    render_json,
)
from drills.report_markdown import render_markdown
from drills.report_sections import load_json, trend_watch
from drills.spec import DrillSpec
from drills.timeline import build_timeline, render_svg


@dataclass(frozen=True, slots=True)
class ReportFiles:
    json: Path
    markdown: Path
    svg: Path


def build_report(
    spec: DrillSpec,
    m: Measurements,
    actions: Sequence[ExecutedAction],
    events: Sequence[ControllerEvent] = (),
    *,
    platform: str,
    started_at: str,
    duration_seconds: float,
    abort_reason: str = "",
    extra: Sequence[ExpectationResult] = (),
) -> Report:
    """Judge ``m`` against ``spec.expect`` and assemble the report. A non-empty
    ``abort_reason`` makes the verdict ``aborted`` whatever the expectations say.
    ``extra`` rows (judged by the runner: steady state after the method, rollbacks)
    follow the spec's expectations and count towards the verdict."""
    results = [*evaluate(spec.expect, m), *extra]
    trend_row, trends = trend_watch(spec, events, m.fault_at)
    if trend_row is not None:  # with the spec's expectations, before the runner's rows
        results.insert(len(results) - len(extra), trend_row)
    return Report(
        drill=spec.name or spec.title,
        platform=platform,
        verdict=verdict(results, aborted=bool(abort_reason)).value,
        measurements=_measurements(m),
        expectations=[_expectation(r) for r in results],
        title=spec.title,
        description=spec.description.strip(),
        started_at=started_at,
        duration_seconds=round(duration_seconds, 3),
        abort_reason=abort_reason,
        actions=[_action(a) for a in actions],
        events=[_event(e) for e in sorted(events, key=_event_order)],
        evidence=_evidence(m),
        timeline=build_timeline(m, actions, events),
        load=load_json(spec.load),
        trend_watch=trends,
    )


def _event_order(e: ControllerEvent) -> tuple[float, str, str, str, int]:
    return (e.at, e.kind, e.site or "", e.unit or "", e.epoch or 0)


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _measurements(m: Measurements) -> MeasurementsJson:
    return MeasurementsJson(
        detection_seconds=_seconds(m.detection_seconds),
        rto_seconds=_seconds(m.rto_seconds),
        rto_by_unit={unit: _seconds(rto) for unit, rto in m.rto_by_unit.items()},
        rpo_lost_acknowledged=m.rpo_lost_acknowledged,
        requests=RequestCounts(total=m.requests.total, ok=m.requests.ok, failed=m.requests.failed),
        split_brain=m.split_brain,
        failovers=m.failovers,
        interruption_by_unit={u: _seconds(v) for u, v in m.interruption_by_unit.items()},
        longest_interruption_seconds=_seconds(m.longest_interruption_seconds),
        survivors_interruption_seconds_max=_seconds(m.survivors_interruption_seconds),
    )


def _expectation(r: ExpectationResult) -> ExpectationJson:
    def rounded(value: Any) -> Any:
        return round(value, 3) if isinstance(value, float) else value

    return ExpectationJson(
        name=r.name, expected=rounded(r.expected), observed=rounded(r.observed), passed=r.passed
    )


def _action(a: ExecutedAction) -> ActionJson:
    return ActionJson(
        phase=a.phase,
        command=a.command,
        started_at=round(a.started_at, 3),
        finished_at=round(a.finished_at, 3),
        took_effect_at=None if a.took_effect_at is None else round(a.took_effect_at, 3),
        ok=a.ok,
        detail=a.detail,
    )


def _event(e: ControllerEvent) -> EventJson:
    return EventJson(
        at=round(e.at, 3), kind=e.kind, site=e.site, unit=e.unit, epoch=e.epoch, detail=e.detail
    )


def _evidence(m: Measurements) -> Evidence:
    def pairs(keys: Sequence[tuple[str, str]]) -> list[list[str]]:
        return [list(k) for k in keys[:MAX_LISTED]]

    return Evidence(
        fault_at=_seconds(m.fault_at),
        unrecovered_units=list(m.unrecovered_units),
        lost_writes=pairs(m.lost_keys),
        changed_writes=pairs(m.changed_keys),
        double_posted_writes=pairs(m.double_posted_keys),
        double_posted_total=len(m.double_posted_keys),
        split_brain_findings=[
            f"{f.unit}: {f.kind} at {f.at:.3f} s: {f.detail}" for f in m.split_brain_findings
        ],
        failovers_by_unit=dict(m.failovers_by_unit),
        false_failovers=m.false_failovers,
        errors_outside_drain=m.errors_outside_drain,
        retries_refused=m.retries_refused,
    )


def write_report(report: Report, directory: str | Path) -> ReportFiles:
    """Write ``report.json``, ``report.md`` and ``timeline.svg`` into ``directory``."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    files = ReportFiles(out / "report.json", out / "report.md", out / "timeline.svg")
    files.json.write_text(render_json(report), encoding="utf-8")
    files.markdown.write_text(render_markdown(report), encoding="utf-8")
    files.svg.write_text(render_svg(report.timeline, report.title), encoding="utf-8")
    return files
