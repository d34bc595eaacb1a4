"""Live progress of a drill: phase, elapsed time, recent success rate, what just ran.

The runner reports to a :class:`ProgressSink`; :class:`ConsoleProgress` shows it (a live
status line on a terminal, a plain line every few seconds otherwise, e.g. in CI logs);
:class:`NullProgress` shows nothing (``--json``, tests).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from rich.console import Console
from rich.live import Live
from rich.text import Text

from drills.executed import ExecutedAction
from drills.report_json import Report
from drills.report_markdown import rto_bound_note


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The drill at one moment. ``recent_success`` covers the last few seconds (None
    when nothing was sent in them)."""

    phase: str
    elapsed: float
    duration: float
    sent: int
    ok: int
    failed: int
    recent_success: float | None

    def line(self) -> str:
        rate = "  -  " if self.recent_success is None else f"{self.recent_success:6.1%}"
        return (
            f"[{self.phase:<12}] {self.elapsed:5.1f}/{self.duration:g} s  "
            f"success(last 2 s) {rate}  requests {self.sent} ok {self.ok} failed {self.failed}"
        )


class ProgressSink(Protocol):
    def update(self, snapshot: Snapshot) -> None: ...

    def note(self, text: str) -> None: ...

    def action(self, executed: ExecutedAction) -> None: ...

    def close(self) -> None: ...


class NullProgress:
    """Shows nothing."""

    def update(self, snapshot: Snapshot) -> None:
        return None

    def note(self, text: str) -> None:
        return None

    def action(self, executed: ExecutedAction) -> None:
        return None

    def close(self) -> None:
        return None


def describe_action(executed: ExecutedAction) -> str:
    """``t=10.0 s  method  site-down production  ok (site production down: ...)``."""
    state = "ok" if executed.ok else "FAILED"
    detail = f" ({executed.detail})" if executed.detail else ""
    return (
        f"t={executed.started_at:5.1f} s  {executed.phase:<8} {executed.command}  {state}{detail}"
    )


class ConsoleProgress:
    """Live status on a terminal; otherwise one line per ``every`` seconds."""

    def __init__(self, console: Console, every: float = 5.0) -> None:
        self.console = console
        self.every = every
        self._last_line_at = -every
        self._live: Live | None = None
        if console.is_terminal:
            self._live = Live(Text(""), console=console, refresh_per_second=4, transient=True)
            self._live.start()

    def update(self, snapshot: Snapshot) -> None:
        if self._live is not None:
            self._live.update(Text(snapshot.line()))
        elif snapshot.elapsed - self._last_line_at >= self.every:
            self._last_line_at = snapshot.elapsed
            self.console.print(snapshot.line(), highlight=False, markup=False)

    def note(self, text: str) -> None:
        self.console.print(text, highlight=False, markup=False)

    def action(self, executed: ExecutedAction) -> None:
        style = None if executed.ok else "red"
        self.console.print(describe_action(executed), style=style, highlight=False, markup=False)

    def close(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None


def summary_lines(report: Report) -> list[str]:
    """A short plain-text verdict: measurements and every expectation, one per line."""
    m = report.measurements
    lines = [
        f"drill {report.drill}: {report.verdict.upper()}"
        + (f" ({report.abort_reason})" if report.abort_reason else ""),
        f"  detection {_s(m.detection_seconds)}  RTO {_s(m.rto_seconds)}{rto_bound_note(report)}  "
        f"RPO {m.rpo_lost_acknowledged} lost  split brain {'YES' if m.split_brain else 'no'}  "
        f"failovers {m.failovers}",
        f"  requests {m.requests.total} (ok {m.requests.ok}, failed {m.requests.failed})",
    ]
    for e in report.expectations:
        mark = "pass" if e.passed else "FAIL"
        lines.append(f"  [{mark}] {e.name}: expected {e.expected!r}, observed {e.observed!r}")
    return lines


def _s(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds:.2f} s"
