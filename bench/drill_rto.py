"""Benchmark: the production-outage drill N times; RTO and detection time, min/median/max.

Each run is the real thing — ``watertight drill run production-outage`` on a fresh local
platform — and the figures are read from each run's ``report.json`` (measured from what
the load generator saw, docs/design.md §1). Each invocation writes its reports into a
directory of its own, ``reports/bench/drill_rto/<UTC time>/run-NN/`` (or ``--out DIR``,
which must not exist yet): a later invocation never overwrites an earlier one's reports,
and a run that wrote no report is never credited with an older one.

    .venv/bin/python bench/drill_rto.py [--runs 10] [--drill production-outage] [--rate R]
                                        [--out DIR]

``--rate`` offers R writes/s instead of the drill file's rate; every line says the rate
its run offered, and the summary gives the survivors' longest interruption too (units
the fault did not hit).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "reports" / "bench" / "drill_rto"


def invocation_dir(out: Path | None) -> Path:
    """A new directory for this invocation's reports; refuses one that already exists."""
    chosen = out if out is not None else OUT / time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    try:
        chosen.mkdir(parents=True)
    except FileExistsError:
        raise SystemExit(
            f"error: {chosen} already exists: each invocation writes its reports into a "
            "new directory (give another --out, or wait a second)"
        ) from None
    return chosen


def run_once(out: Path, drill: str, index: int, rate: float | None) -> dict[str, Any]:
    directory = out / f"run-{index:02d}"
    started = time.monotonic()
    offered = [] if rate is None else ["--rate", str(rate)]
    done = subprocess.run(
        [sys.executable, "-m", "watertight", "drill", "run", drill, "--json",
         "--report-dir", str(directory), *offered],
        capture_output=True, text=True, cwd=REPO, check=False,
    )  # fmt: skip
    report_file = directory / "report.json"
    if not report_file.exists():
        raise SystemExit(f"run {index}: no report ({done.stderr.strip()[-500:]})")
    report: dict[str, Any] = json.loads(report_file.read_text())
    m = report["measurements"]
    print(
        f"run {index:2d}: {report['verdict']:<7} at {report['load']['rate_per_second']:g} "
        f"writes/s  RTO {fmt(m['rto_seconds'])}  detection {fmt(m['detection_seconds'])}  "
        f"survivors {fmt(m['survivors_interruption_seconds_max'])}  "
        f"RPO {m['rpo_lost_acknowledged']}  failovers {m['failovers']}  "
        f"({time.monotonic() - started:.0f} s wall)",
        flush=True,
    )
    return report


def fmt(value: float | None) -> str:
    return "  n/a " if value is None else f"{value:5.2f} s"


def spread(name: str, values: list[float]) -> str:
    if not values:
        return f"{name:<10} no value measured"
    return (
        f"{name:<10} min {min(values):5.2f} s  median {statistics.median(values):5.2f} s  "
        f"max {max(values):5.2f} s  (n={len(values)})"
    )


def measured_runs(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The runs whose fault was injected. A run aborted *before* its fault measured
    nothing (its RTO of 0 says nothing) and is left out; one aborted *after* it (a guard
    rail tripped during the failover) stays, its units unrecovered (RTO n/a): leaving it
    out would drop the worst runs from the spread."""
    return [
        r for r in runs if r["verdict"] != "aborted" or r["evidence"].get("fault_at") is not None
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--drill", default="production-outage")
    parser.add_argument("--rate", type=float, help="writes/s offered (default: the file's)")
    parser.add_argument("--out", type=Path, help="a new directory for the reports")
    args = parser.parse_args()
    out = invocation_dir(args.out)
    print(f"reports in {out}", flush=True)
    runs = [run_once(out, args.drill, i + 1, args.rate) for i in range(args.runs)]
    passed = sum(r["verdict"] == "pass" for r in runs)
    print(f"\n{args.drill}: {passed}/{len(runs)} passed")
    reports = measured_runs(runs)
    if len(reports) < len(runs):
        print(f"{len(runs) - len(reports)} run(s) aborted before the fault, left out below")
    rtos = [r["measurements"]["rto_seconds"] for r in reports]
    detections = [r["measurements"]["detection_seconds"] for r in reports]
    print(spread("RTO", [v for v in rtos if v is not None]))
    print(spread("detection", [v for v in detections if v is not None]))
    survivors = [r["measurements"]["survivors_interruption_seconds_max"] for r in reports]
    print(spread("survivors", [v for v in survivors if v is not None]))
    unrecovered = sum(v is None for v in rtos)
    if unrecovered:
        print(f"{unrecovered} run(s) with a unit that never recovered (RTO n/a)")
    print(f"RPO (lost acknowledged writes) per run: "
          f"{[r['measurements']['rpo_lost_acknowledged'] for r in reports]}")  # fmt: skip


if __name__ == "__main__":
    main()
