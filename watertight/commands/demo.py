"""``watertight demo`` (``make demo``): up, the production-outage drill live, the report, down.

Starts the three sites on loopback in a temporary state dir, runs the library's
``production-outage`` drill with live progress (load, fault, detection, failover,
recovery) at :data:`DEMO_RATE` writes/s, prints the report and stops everything,
whatever happens (Ctrl-C included: the drill's rollbacks run, then the platform goes
down). Exit status as ``drill run``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markdown import Markdown

from drills.platform import PlatformError
from drills.progress import ConsoleProgress, summary_lines
from drills.report_markdown import render_markdown
from drills.spec import DrillSpecError, library, load_spec
from watertight.commands.common import TopologyFile, fail
from watertight.commands.drill import EXIT, execute, load_topology_or_fail

DEMO_DRILL = "production-outage"
DEMO_RATE = 50.0
"""Writes per second the demo offers: the drill file's own 50. It offered 25 until the
router and the load generator left httpx (2026-12-01, docs/drills.md §4); at 50 the
drill passes with moved units' RTO of 5.9-6.2 s, on a busy machine too. The report
states the rate."""


def demo(
    topology_file: TopologyFile = Path("topology.yaml"),
    report_dir: Annotated[
        Path, typer.Option("--report-dir", help="Where to write the demo's report.")
    ] = Path("reports/demo"),
) -> None:
    """Bring up the three sites, run the production-outage drill live, print the report."""
    console = Console()
    topology = load_topology_or_fail(topology_file)
    try:
        spec = load_spec(library()[DEMO_DRILL], topology).at_rate(DEMO_RATE)
    except DrillSpecError as exc:
        fail(str(exc))
    console.rule(f"[bold]watertight demo: {spec.title}")
    console.print(spec.description.strip(), highlight=False)
    console.print("starting the local platform (etcd, units, router, controllers) ...")
    progress = ConsoleProgress(console)
    try:
        report, _ = asyncio.run(
            execute(
                spec, topology_file, topology, attach=None, report_dir=report_dir,
                progress=progress,
            )
        )  # fmt: skip
    except PlatformError as exc:
        progress.close()
        fail(str(exc), 3)
    console.rule("[bold]report")
    console.print(Markdown(render_markdown(report)))
    for line in summary_lines(report):
        console.print(line, highlight=False, markup=False)
    console.print(f"report files: {report_dir}/report.md, report.json, timeline.svg")
    raise typer.Exit(EXIT[report.verdict])
