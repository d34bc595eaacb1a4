"""The DR test suite's plumbing: run the real CLI, keep the reports where CI finds them.

Every drill runs as a user would run it (``python -m watertight drill ...`` in a
subprocess); its ``report.json`` lands in ``reports/drills/<name>/`` (CI keeps
``reports/`` as an artifact) and the tests assert on that report.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from drills.spec import library, load_spec

REPO = Path(__file__).resolve().parents[2]
REPORTS = REPO / "reports" / "drills"
UP_ATTEMPTS = 2
DR_TIMEOUT = 600  # seconds per test: a platform start, warm-up, a drill, read-back and down
DR_RATE = float(os.environ.get("WATERTIGHT_DR_RATE", "40"))
"""Writes per second every drill of this suite offers (``drill run --rate``), whatever its
file says (the library's files say 50). 40 by default, a fifth below the files: since
the router and the drills' load generator left httpx (2026-12-01), production-outage,
its TLS variant and gray-unit pass at 50 by hand with a busy loop taking 0.75 of the
machine's 2 cores (the slower machine's speed, roughly): moved units' RTO at most 6.2 s,
7.2 s with TLS. CI runs them after half an hour of other suites, where RTOs ran 1-2 s
longer than by hand before; 40 keeps that margin (docs/benchmarks.md, "Drill rate on
the slower machine"). Every report states the rate it ran at, and the tests assert it.
``WATERTIGHT_DR_RATE=50`` runs the suite at the files' rate."""
CI_LIBRARY = frozenset(
    {
        "production-outage",
        "production-hang",
        "unit-crash",
        "city-cut-then-production-lost",
        "remote-dr-lost",
        "gray-unit",
    }
)
"""The library drills CI runs on the local platform. Each of the others has a stand-in CI
does run (:data:`STAND_INS`); ``WATERTIGHT_DR_FULL=1`` (``make test-dr``) runs all of
them. Thirteen drills of ~2 minutes each on the slower machine did not fit CI's 75
minutes beside everything else (docs/drills.md §7)."""

STAND_INS = {
    "same-city-outage": "tests/drills/test_library_drills.py::"
    "test_the_library_drill_passes_on_the_local_platform",
    "city-partition": "tests/drills/test_docker_drills.py::"
    "test_the_drill_passes_on_the_docker_platform_keeping_every_safety_invariant",
    "city-a-lost": "tests/integration/controller/test_city_a_lost.py::"
    "test_city_a_lost_needs_a_declared_disaster_then_approvals_and_loses_exactly_the_async_lag",
    "leader-site-fails": "tests/integration/controller/test_site_outage.py::"
    "test_the_leaders_own_site_failing_is_completed_by_another_controller",
    "slow-site": "tests/integration/controller/test_no_false_failover.py::"
    "test_partition_hung_witness_and_slow_site_cause_no_failover_but_a_hung_primary_site_does",
    "gray-unit-slow": "tests/failover/trends/test_trend_watch_properties.py::"
    "test_a_p99_that_doubles_warns_for_that_unit_within_the_stated_time",
    "site-switchover-and-failback": "tests/integration/controller/test_planned_moves.py::"
    "test_a_site_switchover_and_its_failback_under_load_lose_nothing",
}
"""For each library drill CI leaves out, the CI test that covers what it rehearses: its
mirror (same-city-outage is production-outage with the city-A sites swapped), the same
drill on the docker platform, or an integration or property test of the same behaviour
(city-a-lost's also runs on the docker platform)."""


def dr_library() -> list[str]:
    """The library drills this session runs: :data:`CI_LIBRARY`, or every one with
    ``WATERTIGHT_DR_FULL=1``."""
    names = sorted(library())
    if os.environ.get("WATERTIGHT_DR_FULL") == "1":
        return names
    return [name for name in names if name in CI_LIBRARY]


# For chaos seeds: availability and timing expectations (RTO bounds, p99 steady state,
# "every unit serving again") depend on how loaded the 2-core machine is, and a seed on
# the shared platform cannot be re-run from the same starting point. So their safety
# invariants are judged strictly and the full verdict as a known-flaky expectation (never
# faked): the report lands in reports/drills/ either way. Library drills get a second run
# instead (test_library_drills.py). See docs/drills.md, "The DR test suite".
VERDICT_MAY_MISS_TIMING = pytest.mark.xfail(
    reason="timing/availability expectations vary with machine load (2 cores); "
    "safety invariants are asserted strictly by a separate test",
    strict=False,
)


def watertight(*args: str, timeout: float = 570.0) -> subprocess.CompletedProcess[str]:
    """Run ``python -m watertight ARGS`` from the repository root."""
    return subprocess.run(
        [sys.executable, "-m", "watertight", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def drill_report(directory: Path) -> dict[str, Any]:
    report: dict[str, Any] = json.loads((directory / "report.json").read_text())
    return report


def run_drill(
    name: str, directory: Path, *options: str, timeout: float = 570.0
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """``watertight drill run NAME OPTIONS`` at the suite's rate (:data:`DR_RATE`), its
    report written to ``directory``; returns the finished command and the report, which
    must exist and state that rate."""
    done = watertight("drill", "run", name, *options, "--rate", str(DR_RATE),
                      "--report-dir", str(directory), "--json", timeout=timeout)  # fmt: skip
    assert (directory / "report.json").exists(), done.stderr[-3000:]
    report = drill_report(directory)
    assert report["load"]["rate_per_second"] == DR_RATE, report["load"]
    return done, report


_LIBRARY_REPORTS: dict[str, dict[str, Any]] = {}


def library_drill_report(name: str, run: str = "") -> dict[str, Any]:
    """Run the library drill ``name`` on a fresh local platform once per test session and
    ``run`` suffix, and return its report; later calls return the same report.

    Every test that judges a library drill on the local platform reads the one run
    (test_library_drills.py judges every drill, test_gray_unit_drill.py the trend watch
    of the gray ones): running the same drill twice would only spend CI's time. The
    exit status must match the verdict (0 pass, 1 fail, 2 aborted).
    """
    directory = REPORTS / f"{name}{run}"
    if directory.name in _LIBRARY_REPORTS:
        return _LIBRARY_REPORTS[directory.name]
    done, report = run_drill(name, directory)
    status = {"pass": 0, "fail": 1}.get(report["verdict"], 2)
    assert done.returncode == status, (report["verdict"], done.returncode, done.stderr[-3000:])
    _LIBRARY_REPORTS[directory.name] = report
    return report


def expectation(report: dict[str, Any], name: str) -> dict[str, Any]:
    rows = [e for e in report["expectations"] if e["name"] == name]
    assert rows, f"the report has no {name!r} row: {report['expectations']}"
    row: dict[str, Any] = rows[0]
    return row


def assert_safe(name: str, report: dict[str, Any]) -> None:
    """The safety invariants (docs/design.md §3) a library drill's report must show on any
    machine, however loaded: no split brain, no double posting, nothing acknowledged lost
    where the drill promises RPO 0, rollbacks that ran, and some writes acknowledged."""
    spec = load_spec(library()[name])
    m = report["measurements"]
    assert m["split_brain"] is False, explain(report)
    assert expectation(report, "double_posting")["passed"], explain(report)
    if spec.expect.rpo_lost_acknowledged != "reported":
        assert m["rpo_lost_acknowledged"] == 0, explain(report)
    assert expectation(report, "rollbacks_succeeded")["passed"], explain(report)
    assert m["requests"]["ok"] > 0


def explain(report: dict[str, Any]) -> str:
    failed = [e for e in report["expectations"] if not e["passed"]]
    return f"verdict {report['verdict']} {report['abort_reason']!r}; failed: {failed}"


def platform(state_dir: Path) -> Iterator[Path]:
    """``watertight up`` in ``state_dir``, yield it, always ``watertight down``."""
    try:
        for _ in range(UP_ATTEMPTS):  # a free port may be taken by another process meanwhile
            started = watertight("up", "--json", "--state-dir", str(state_dir), timeout=300)
            if started.returncode == 0:
                break
            watertight("down", "--state-dir", str(state_dir), timeout=120)
            shutil.rmtree(state_dir, ignore_errors=True)  # start clean (etcd data and all)
        assert started.returncode == 0, started.stderr
        yield state_dir
    finally:
        watertight("down", "--state-dir", str(state_dir), timeout=120)


@pytest.fixture
def running_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh local platform for one test (drills attach to it); always stopped."""
    yield from platform(tmp_path_factory.mktemp("platform"))


@pytest.fixture(scope="module")
def shared_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One local platform for a whole module (the chaos seeds); always stopped."""
    yield from platform(tmp_path_factory.mktemp("shared-platform"))


def start_drill(*args: str) -> subprocess.Popen[str]:
    """``watertight drill ARGS`` in the background (for interrupting it)."""
    return subprocess.Popen(
        [sys.executable, "-m", "watertight", "drill", *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def interrupt(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGINT)
