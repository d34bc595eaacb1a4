"""Live progress: what a person watching a drill (or reading a CI log) sees."""

from __future__ import annotations

import io

from drill_factory import clean_failover
from rich.console import Console
from test_report import report_of

from drills.executed import ExecutedAction
from drills.progress import ConsoleProgress, Snapshot, describe_action, summary_lines


def test_a_log_line_shows_the_phase_elapsed_time_and_recent_success() -> None:
    out = io.StringIO()
    progress = ConsoleProgress(Console(file=out, width=200), every=5.0)
    progress.update(Snapshot("method", 12.0, 40.0, sent=100, ok=90, failed=10,
                             recent_success=0.5))  # fmt: skip
    progress.update(Snapshot("method", 13.0, 40.0, 120, 100, 20, 0.75))
    lines = out.getvalue().splitlines()
    assert len(lines) == 1, "one line per 5 s when not on a terminal"
    assert "[method      ]" in lines[0]
    assert "12.0/40 s" in lines[0] and "50.0%" in lines[0]


def test_an_action_line_says_when_what_and_whether_it_worked() -> None:
    done = ExecutedAction("site-down", "site-down production", 10.0, 10.4, ok=False,
                          detail="no such site")  # fmt: skip
    assert describe_action(done) == (
        "t= 10.0 s  method   site-down production  FAILED (no such site)"
    )


def test_the_summary_reads_an_unbounded_rto_as_a_measurement_not_a_miss() -> None:
    report = report_of(clean_failover())
    assert "  RTO 6.02 s (bound 8 s)  " in summary_lines(report)[1]
    unbounded = report.model_copy(
        update={"expectations": [e for e in report.expectations if e.name != "rto_seconds_max"]}
    )
    assert "  RTO 6.02 s (no bound set)  " in summary_lines(unbounded)[1]
