"""The drill report: ``report.json`` (docs/design.md §5 keys), ``report.md`` and ``timeline.svg``.

:func:`build_report` judges the measurements against the spec and assembles a
:class:`Report`; :func:`write_report` writes the three files. Everything is rendered from
the :class:`Report` alone, so a ``report.json`` can be re-rendered later
(:func:`read_report`). Pure apart from the file writes; the runner supplies the wall-clock
``started_at``. Same input, same bytes.

``report.json`` top level: the docs/design.md §5 keys :data:`DESIGN_KEYS` (``measurements`` holds
its docs/design.md §5 keys, then the write-interruption keys :data:`INTERRUPTION_KEYS`;
``requests`` exactly its docs/design.md §5 keys), plus the extra keys :data:`EXTRA_KEYS`:
``title``, ``description``, ``started_at`` (ISO 8601, UTC), ``duration_seconds``,
``abort_reason`` (``""`` unless aborted), ``actions`` (what ran, when), ``events``
(controller events used), ``evidence`` (what the measurements rest on: lost writes,
split-brain findings, failovers per unit, ...), ``timeline`` (series and markers), ``load``
and ``trend_watch`` (:mod:`drills.report_sections`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from drills.controller_event import ControllerEvent
from drills.executed import ExecutedAction
from drills.expectations import ExpectationResult, evaluate, verdict
from drills.measure import Measurements
from drills.report_sections import LoadJson, load_json, load_rows, trend_watch
from drills.spec import DrillSpec
from drills.timeline import Timeline, build_timeline, render_svg
from drills.trend_lead import TrendWatchJson, markdown_rows

DESIGN_KEYS = ("drill", "platform", "verdict", "measurements", "expectations")
EXTRA_KEYS = (
    "title", "description", "started_at", "duration_seconds", "abort_reason", "actions",
    "events", "evidence", "timeline", "load", "trend_watch",
)  # fmt: skip
INTERRUPTION_KEYS = (
    "interruption_by_unit", "longest_interruption_seconds", "survivors_interruption_seconds_max",
)  # fmt: skip
MAX_LISTED = 100  # evidence lists are capped; the totals are always complete


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RequestCounts(_Model):
    total: int
    ok: int
    failed: int


class MeasurementsJson(_Model):
    """The docs/design.md §5 measurement keys, then the write interruptions (:mod:`drills.measure`):
    ``interruption_by_unit`` (every unit the load sent to; ``null`` = never recovered),
    their max ``longest_interruption_seconds`` and ``survivors_interruption_seconds_max``,
    the max over the units that did not move."""

    detection_seconds: float | None
    rto_seconds: float | None
    rto_by_unit: dict[str, float | None]
    rpo_lost_acknowledged: int
    requests: RequestCounts
    split_brain: bool
    failovers: int
    interruption_by_unit: dict[str, float | None]
    longest_interruption_seconds: float | None
    survivors_interruption_seconds_max: float | None


class ExpectationJson(_Model):
    name: str
    expected: Any
    observed: Any
    passed: bool


class ActionJson(_Model):
    phase: Literal["method", "rollback"]
    command: str
    started_at: float
    finished_at: float
    took_effect_at: float | None
    ok: bool
    detail: str


class EventJson(_Model):
    at: float
    kind: str
    site: str | None
    unit: str | None
    epoch: int | None
    detail: str


class Evidence(_Model):
    """What the measurements rest on. Write lists hold ``[customer_id, key]`` pairs."""

    fault_at: float | None
    unrecovered_units: list[str]
    lost_writes: list[list[str]]
    changed_writes: list[list[str]]
    double_posted_writes: list[list[str]]
    double_posted_total: int
    split_brain_findings: list[str]
    failovers_by_unit: dict[str, int]
    false_failovers: int
    errors_outside_drain: int


class Report(_Model):
    """The whole report; field order is the JSON key order."""

    drill: str
    platform: str
    verdict: Literal["pass", "fail", "aborted"]
    measurements: MeasurementsJson
    expectations: list[ExpectationJson]
    title: str
    description: str
    started_at: str
    duration_seconds: float
    abort_reason: str
    actions: list[ActionJson]
    events: list[EventJson]
    evidence: Evidence
    timeline: Timeline
    load: LoadJson | None = None
    trend_watch: TrendWatchJson | None = None


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
    )


def render_json(report: Report) -> str:
    """``report.json``: two-space indented, keys in :class:`Report` order, final newline."""
    return report.model_dump_json(indent=2) + "\n"


def read_report(path: str | Path) -> Report:
    return Report.model_validate_json(Path(path).read_text(encoding="utf-8"))


def write_report(report: Report, directory: str | Path) -> ReportFiles:
    """Write ``report.json``, ``report.md`` and ``timeline.svg`` into ``directory``."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    files = ReportFiles(out / "report.json", out / "report.md", out / "timeline.svg")
    files.json.write_text(render_json(report), encoding="utf-8")
    files.markdown.write_text(render_markdown(report), encoding="utf-8")
    files.svg.write_text(render_svg(report.timeline, report.title), encoding="utf-8")
    return files


# --- report.md --------------------------------------------------------------------------

_MEASURED = (
    ("detection_seconds", "Detection: fault → first controller 'site down' event"),
    ("rto_seconds", "RTO: fault → final uninterrupted run of successful writes (max over units)"),
    ("rpo_lost_acknowledged", "RPO: acknowledged writes that cannot be read back"),
    ("split_brain", "Split brain: two writable primaries seen by clients"),
    ("failovers", "Failovers: promotions (epoch increases) across all units"),
    (
        "longest_interruption_seconds",
        "Longest write interruption of any unit: first failed send → next acknowledgement",
    ),
    (
        "survivors_interruption_seconds_max",
        "Longest write interruption of a unit that did not move (changed no primary)",
    ),
)
_UNKNOWN = {
    "rto_seconds": "not recovered",
    "longest_interruption_seconds": "not recovered",
    "survivors_interruption_seconds_max": "not recovered",
    "detection_seconds": "no site declared down",
}


def render_markdown(report: Report) -> str:
    """``report.md``: for an auditor — what was done, when, what was measured, pass/fail."""
    sections = [
        _md_header(report),
        _md_actions(report),
        _md_measurements(report),
        _md_expectations(report),
        _md_evidence(report),
        "## Timeline\n\n![success rate and p99 latency over time](timeline.svg)\n\n"
        "Times are seconds from the drill start on the load generator's clock. "
        "Definitions of every number: `docs/drills.md`.\n",
    ]
    return "\n".join(sections)


def _md_header(r: Report) -> str:
    lines = [
        f"# Drill report: {r.title}",
        "",
        f"**Verdict: {r.verdict.upper()}**"
        + (f" — aborted: {r.abort_reason}" if r.abort_reason else ""),
        "",
        "| | |",
        "|---|---|",
        f"| drill | `{r.drill}` |",
        f"| platform | {r.platform} |",
        f"| started at | {r.started_at} |",
        f"| duration | {r.duration_seconds:.1f} s |",
        *load_rows(r.load),
        f"| expectations | {sum(e.passed for e in r.expectations)} of {len(r.expectations)} met |",
        "",
    ]
    if r.description:
        lines += [r.description, ""]
    return "\n".join(lines)


def _md_actions(r: Report) -> str:
    lines = ["## What was done", ""]
    if not r.actions:
        return "\n".join([*lines, "No actions ran.", ""])
    lines += [
        "| at (s) | until (s) | phase | action | result | detail |",
        "|---:|---:|---|---|---|---|",
    ]
    for a in r.actions:
        result = "ok" if a.ok else "FAILED"
        lines.append(
            f"| {a.started_at:.3f} | {a.finished_at:.3f} | {a.phase} | `{a.command}` | "
            f"{result} | {_cell(a.detail)} |"
        )
    return "\n".join([*lines, ""])


def rto_bound_note(r: Report) -> str:
    """`` (bound 8 s)``, or `` (no bound set)`` when the spec does not judge the RTO: an
    RTO read without its bound looks like a miss in a drill that never promised one."""
    bound = next((e.expected for e in r.expectations if e.name == "rto_seconds_max"), None)
    return " (no bound set)" if bound is None else f" (bound {bound:g} s)"


def _md_measurements(r: Report) -> str:
    m = r.measurements
    lines = ["## What was measured", "", "| measurement | value |", "|---|---|"]
    for key, label in _MEASURED:
        note = rto_bound_note(r) if key == "rto_seconds" else ""
        lines.append(f"| {label} | {_value(getattr(m, key), key)}{note} |")
    if r.trend_watch is not None:
        lines += markdown_rows(r.trend_watch)
    q = m.requests
    lines.append(f"| Requests (every attempt, retries included) | {q.total} total, {q.ok} ok, "
                 f"{q.failed} failed |")  # fmt: skip
    lines.append("")
    if not m.rto_by_unit:
        lines += ["No unit's writes were interrupted after a fault.", ""]
    return "\n".join([*lines, *_md_units(r), ""])


def _md_units(r: Report) -> list[str]:
    """Per unit: moved or not, longest write interruption, RTO (affected units only)."""
    m = r.measurements
    if not m.interruption_by_unit:  # lists every unit the load sent to, RTO units too
        return []
    lines = [
        "Each unit: whether it changed primary, its longest write interruption and, for a "
        "unit the fault interrupted, its RTO:",
        "",
        "| unit | moved | longest interruption | RTO |",
        "|---|---|---|---|",
    ]
    for u, seconds in m.interruption_by_unit.items():
        moved = "yes" if r.evidence.failovers_by_unit.get(u, 0) > 0 else "no"
        interruption = _value(seconds, "longest_interruption_seconds")
        rto = _value(m.rto_by_unit[u], "rto_seconds") if u in m.rto_by_unit else "—"
        lines.append(f"| {u} | {moved} | {interruption} | {rto} |")
    return lines


def _md_expectations(r: Report) -> str:
    lines = ["## Expectations", ""]
    lines += ["| expectation | expected | observed | result |", "|---|---|---|---|"]
    for e in r.expectations:
        result = "pass" if e.passed else "**FAIL**"
        lines.append(f"| {e.name} | {_json(e.expected)} | {_json(e.observed)} | {result} |")
    return "\n".join([*lines, ""])


def _md_evidence(r: Report) -> str:
    ev = r.evidence
    lines = ["## Evidence", ""]
    listed = (
        ("Units that never recovered", [[u] for u in ev.unrecovered_units]),
        ("Acknowledged writes not found", ev.lost_writes),
        ("Acknowledged writes found with different content", ev.changed_writes),
        ("Writes posted under two transaction ids", ev.double_posted_writes),
        ("Split-brain findings", [[f] for f in ev.split_brain_findings]),
    )
    for title, rows in listed:
        if rows:
            capped = f" (first {MAX_LISTED} listed)" if len(rows) >= MAX_LISTED else ""
            lines += [f"{title}{capped}:", ""] + [f"- {' / '.join(row)}" for row in rows] + [""]
    if ev.failovers_by_unit:
        moved = ", ".join(f"{u} ×{n}" for u, n in ev.failovers_by_unit.items())
        lines += [f"Units that changed primary: {moved}.", ""]
    judged = {e.name for e in r.expectations}
    if "errors_outside_drain_max" in judged:
        lines += [f"Failed attempts outside the switchover/failback drain windows: "
                  f"{ev.errors_outside_drain}.", ""]  # fmt: skip
    if "false_failovers" in judged:
        lines += [f"False failovers (promotions in a drill that expects none): "
                  f"{ev.false_failovers}.", ""]  # fmt: skip
    if len(lines) == 2:
        lines += ["Nothing was lost, doubled, split or moved.", ""]
    return "\n".join(lines)


def _value(value: object, key: str) -> str:
    if value is None:
        return _UNKNOWN.get(key, "none")
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3f} s"
    return str(value)


def _json(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return ", ".join(f"{k} {_json(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "none"
    return str(value)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
