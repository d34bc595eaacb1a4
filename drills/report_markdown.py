"""``report.md``: the drill report for an auditor — what was done, when, what was
measured, and what passed or failed (docs/drills.md §5).

:func:`render_markdown` renders it from a :class:`~drills.report_json.Report` alone, so a
``report.json`` read back renders the same text. Pure; same report, same bytes.
"""

from __future__ import annotations

from typing import Any

from drills.report_json import MAX_LISTED, Report
from drills.report_sections import load_rows
from drills.trend_lead import markdown_rows

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
    q, refused = m.requests, r.evidence.retries_refused
    lines.append(f"| Requests (every attempt, retries included) | {q.total} total, {q.ok} ok, "
                 f"{q.failed} failed; {refused} retries not sent (retry budget) |")  # fmt: skip
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
