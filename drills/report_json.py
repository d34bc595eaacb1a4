"""The drill report as a document: the schema of ``report.json`` and its JSON form.

:class:`Report` is the whole report; every other rendering (:mod:`drills.report_markdown`,
the timeline SVG of :mod:`drills.timeline`) is made from it alone, so a ``report.json``
read back with :func:`read_report` renders the same bytes again. :func:`render_json`
writes it two-space indented, keys in :class:`Report` order, final newline. Pure.

``report.json`` top level: the docs/design.md §5 keys :data:`DESIGN_KEYS` (``measurements`` holds
its docs/design.md §5 keys, then the write-interruption keys :data:`INTERRUPTION_KEYS`;
``requests`` exactly its docs/design.md §5 keys), plus the extra keys :data:`EXTRA_KEYS`:
``title``, ``description``, ``started_at`` (ISO 8601, UTC), ``duration_seconds``,
``abort_reason`` (``""`` unless aborted), ``actions`` (what ran, when), ``events``
(controller events used), ``evidence`` (what the measurements rest on: lost writes,
split-brain findings, failovers per unit, ...), ``timeline`` (series and markers), ``load``
and ``trend_watch`` (:mod:`drills.report_sections`). Evidence lists hold at most
:data:`MAX_LISTED` entries; their totals are always complete.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from drills.report_sections import LoadJson
from drills.timeline import Timeline
from drills.trend_lead import TrendWatchJson

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
    """The docs/design.md §5 measurement keys, then the write interruptions
    (:mod:`drills.recovery`): ``interruption_by_unit`` (every unit the load sent to;
    ``null`` = never recovered), their max ``longest_interruption_seconds`` and
    ``survivors_interruption_seconds_max``, the max over the units that did not move."""

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
    retries_refused: int = 0
    """Retries the clients' retry budget did not send (absent from reports before it)."""


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


def render_json(report: Report) -> str:
    """``report.json``: two-space indented, keys in :class:`Report` order, final newline."""
    return report.model_dump_json(indent=2) + "\n"


def read_report(path: str | Path) -> Report:
    return Report.model_validate_json(Path(path).read_text(encoding="utf-8"))
