"""The drill timeline: per-second series plus markers, and its self-contained SVG picture.

:func:`build_timeline` turns measurements and the action/event timeline into a
:class:`Timeline` (stored in ``report.json`` under the extra key ``timeline``);
:func:`render_svg` draws it: success rate (top) and p99 latency of successful writes
(bottom) per second of sending, with vertical markers for faults, repairs, operator
actions, detection, promotions and recovery. Plain SVG — no scripts, fonts or links to
fetch — and deterministic: the same timeline gives the same bytes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from html import escape
from typing import Literal

from pydantic import BaseModel, ConfigDict

from drills.controller_event import PROMOTED, ControllerEvent
from drills.executed import ExecutedAction
from drills.measure import Measurements

MarkerKind = Literal["fault", "repair", "operator", "detection", "promotion", "recovery"]
COLOURS: dict[str, str] = {
    "fault": "#d62728",
    "repair": "#2ca02c",
    "operator": "#9467bd",
    "detection": "#ff7f0e",
    "promotion": "#1f77b4",
    "recovery": "#17becf",
}

_Getter = Callable[["SecondPoint"], float | None]
WIDTH, LEFT, RIGHT = 960, 70, 20
TOP, PANEL, GAP, KEY_ROW = 110, 150, 50, 14


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SecondPoint(_Model):
    """Attempts sent during ``[second, second + 1)``; rates and p99 are ``None`` if empty."""

    second: int
    total: int
    ok: int
    success_rate: float | None
    p99_ms: float | None


class Marker(_Model):
    at: float
    kind: MarkerKind
    label: str


class Timeline(_Model):
    seconds: list[SecondPoint]
    markers: list[Marker]


def build_timeline(
    m: Measurements, actions: Sequence[ExecutedAction], events: Sequence[ControllerEvent]
) -> Timeline:
    """Series from ``m.series``; markers from actions, promotions, detection, recovery."""
    seconds = [
        SecondPoint(
            second=s.second,
            total=s.total,
            ok=s.ok,
            success_rate=None if s.success_rate is None else round(s.success_rate, 4),
            p99_ms=None if s.p99_ms is None else round(s.p99_ms, 1),
        )
        for s in m.series
    ]
    markers = [Marker(at=round(a.started_at, 3), kind=_kind(a), label=a.command) for a in actions]
    for event in events:
        if event.kind == PROMOTED:
            label = f"{event.unit} promoted at {event.site} (epoch {event.epoch})"
            markers.append(Marker(at=round(event.at, 3), kind="promotion", label=label))
    if m.fault_at is not None and m.detection_seconds is not None:
        at = m.fault_at + m.detection_seconds
        label = f"site declared down (+{m.detection_seconds:.1f} s)"
        markers.append(Marker(at=round(at, 3), kind="detection", label=label))
    if m.fault_at is not None and m.rto_seconds is not None and m.rto_by_unit:
        at = m.fault_at + m.rto_seconds
        label = f"all units recovered (RTO {m.rto_seconds:.1f} s)"
        markers.append(Marker(at=round(at, 3), kind="recovery", label=label))
    markers.sort(key=lambda k: (k.at, k.kind, k.label))
    return Timeline(seconds=seconds, markers=markers)


def _kind(action: ExecutedAction) -> MarkerKind:
    if action.is_fault:
        return "fault"
    return "repair" if action.is_repair else "operator"


def render_svg(timeline: Timeline, title: str) -> str:
    """The timeline as a standalone SVG document."""
    span = _span(timeline)
    key_top = TOP + 2 * PANEL + GAP + 40
    height = key_top + 16 + math.ceil(len(timeline.markers) / 2) * KEY_ROW + 10
    latency_max = _nice_ceiling(max((p.p99_ms or 0.0 for p in timeline.seconds), default=0.0))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="11">',
        f'<rect x="0" y="0" width="{WIDTH}" height="{height}" fill="white"/>',
        f'<text x="{LEFT}" y="20" font-size="15" font-weight="bold">{escape(title)}</text>',
        *_legend(),
        *_panel(TOP, "success rate (%)", 100.0, span),
        *_panel(TOP + PANEL + GAP, "p99 latency of successes (ms)", latency_max, span),
        _series(timeline, span, TOP, lambda p: _pct(p.success_rate), 100.0),
        _series(timeline, span, TOP + PANEL + GAP, lambda p: p.p99_ms, latency_max),
        *_markers(timeline.markers, span),
        *_key(timeline.markers, key_top),
        "</svg>",
    ]
    return "\n".join(part for part in parts if part) + "\n"


def _pct(rate: float | None) -> float | None:
    return None if rate is None else rate * 100.0


def _span(timeline: Timeline) -> float:
    last_second = max((p.second + 1 for p in timeline.seconds), default=1)
    last_marker = max((k.at for k in timeline.markers), default=0.0)
    return float(max(last_second, math.ceil(last_marker) + 1, 1))


def _x(t: float, span: float) -> float:
    return LEFT + (WIDTH - LEFT - RIGHT) * min(max(t, 0.0), span) / span


def _y(value: float, top: int, vmax: float) -> float:
    return top + PANEL - PANEL * min(max(value, 0.0), vmax) / vmax


def _legend() -> list[str]:
    items = []
    for i, (kind, colour) in enumerate(COLOURS.items()):
        x = LEFT + i * 140
        items.append(f'<line x1="{x}" y1="40" x2="{x + 18}" y2="40" stroke="{colour}" '
                     f'stroke-width="2" stroke-dasharray="4 2"/>'
                     f'<text x="{x + 22}" y="44">{kind}</text>')  # fmt: skip
    return items


def _panel(top: int, label: str, vmax: float, span: float) -> list[str]:
    right = WIDTH - RIGHT
    out = [
        f'<rect x="{LEFT}" y="{top}" width="{right - LEFT}" height="{PANEL}" fill="none" '
        f'stroke="#999"/>',
        f'<text x="{LEFT}" y="{top - 6}" font-weight="bold">{escape(label)}</text>',
    ]
    for frac in (0.0, 0.5, 1.0):
        y = _y(vmax * frac, top, vmax)
        out.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{vmax * frac:g}</text>')
    step = _nice_step(span)
    t = 0.0
    while t <= span + 1e-9:
        x = _x(t, span)
        out.append(f'<line x1="{x:.1f}" y1="{top + PANEL}" x2="{x:.1f}" y2="{top + PANEL + 4}" '
                   f'stroke="#999"/><text x="{x:.1f}" y="{top + PANEL + 16}" '
                   f'text-anchor="middle">{t:g}s</text>')  # fmt: skip
        t += step
    return out


def _series(timeline: Timeline, span: float, top: int, value: _Getter, vmax: float) -> str:
    """A polyline per run of seconds that have a value (gaps stay gaps)."""
    runs: list[list[str]] = [[]]
    for point in timeline.seconds:
        v = value(point)
        if v is None:
            runs.append([])
            continue
        runs[-1].append(f"{_x(point.second + 0.5, span):.1f},{_y(v, top, vmax):.1f}")
    return "\n".join(
        f'<polyline points="{" ".join(run)}" fill="none" stroke="#333" stroke-width="1.5"/>'
        for run in runs
        if run
    )


def _markers(markers: Sequence[Marker], span: float) -> list[str]:
    """A numbered dashed line per marker; the numbers are explained in :func:`_key`."""
    out = []
    bottom = TOP + 2 * PANEL + GAP
    rows = _tag_rows([_x(m.at, span) for m in markers])
    for i, (marker, row) in enumerate(zip(markers, rows, strict=True), start=1):
        x = _x(marker.at, span)
        colour = COLOURS[marker.kind]
        tag_y = 64 + row * 11
        out.append(
            f"<g><title>{escape(f'{marker.at:.3f} s {marker.kind}: {marker.label}')}</title>"
            f'<line x1="{x:.1f}" y1="{tag_y + 3}" x2="{x:.1f}" y2="{bottom}" '
            f'stroke="{colour}" stroke-width="1.5" stroke-dasharray="4 2"/>'
            f'<text x="{x:.1f}" y="{tag_y}" fill="{colour}" text-anchor="middle" '
            f'font-weight="bold">{i}</text></g>'
        )
    return out


def _tag_rows(xs: Sequence[float], rows: int = 4, room: float = 16.0) -> list[int]:
    """Stagger marker numbers over ``rows`` lines so that close markers stay readable:
    each goes to the first row whose last number is at least ``room`` pixels away."""
    last = [-math.inf] * rows
    chosen = []
    for x in xs:
        row = next((r for r in range(rows) if x - last[r] >= room), last.index(min(last)))
        last[row] = x
        chosen.append(row)
    return chosen


def _key(markers: Sequence[Marker], top: int) -> list[str]:
    """The marker list under the panels, in two columns: number, time, kind, label."""
    rows = math.ceil(len(markers) / 2)
    out = [f'<text x="{LEFT}" y="{top}" fill="#666">markers (seconds from drill start)</text>']
    for i, marker in enumerate(markers):
        column, row = divmod(i, rows) if rows else (0, 0)
        x = LEFT + column * (WIDTH - LEFT) // 2
        y = top + 16 + row * KEY_ROW
        text = f"{i + 1}. {marker.at:.1f} s {marker.kind}: {marker.label}"
        out.append(f'<text x="{x}" y="{y}" fill="{COLOURS[marker.kind]}">{escape(text)}</text>')
    return out


def _nice_step(span: float) -> float:
    for step in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600):
        if span / step <= 12:
            return float(step)
    return float(math.ceil(span / 12))


def _nice_ceiling(value: float) -> float:
    """Smallest of 1, 2, 5 × 10^k at or above ``value`` (at least 10 ms)."""
    if value <= 10.0:
        return 10.0
    magnitude = 10.0 ** math.floor(math.log10(value))
    for factor in (1.0, 2.0, 5.0, 10.0):
        if factor * magnitude >= value:
            return factor * magnitude
    return 10.0 * magnitude
