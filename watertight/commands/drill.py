"""``watertight drill run | list | chaos`` — run measured failover drills.

``run`` takes a drill file or the name of a library drill. ``--platform local`` (the
default) starts a fresh local platform in a temporary state dir and stops it after;
``--attach DIR`` runs against a platform already running from ``DIR`` (left running).
A drill whose file sets ``trends`` gets a fresh platform whose topology has those trend
settings merged in (written to ``<report dir>/topology.yaml``, as evidence); it cannot
``--attach``, since a running platform's controllers keep the settings they started with.
Exit status: 0 pass, 1 fail, 2 aborted (guard rail, failed step, Ctrl-C), 3 the drill
could not start. Ctrl-C (SIGINT) or SIGTERM aborts the drill; rollbacks still run.
"""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.console import Console

from drills.chaos import plan_chaos
from drills.platform import PlatformError, local_platform
from drills.progress import ConsoleProgress, NullProgress, ProgressSink, summary_lines
from drills.report_json import Report, render_json
from drills.runner import DrillRun, RunOptions, run_and_write
from drills.spec import DrillSpec, DrillSpecError, library, load_spec
from failover.topology import Topology, TopologyError, load_topology
from watertight.commands.common import JsonFlag, TopologyFile, fail

group = typer.Typer(help="Measured failover drills (docs/design.md §5).", no_args_is_help=True)
EXIT = {"pass": 0, "fail": 1, "aborted": 2}

ReportDir = Annotated[
    Path | None,
    typer.Option("--report-dir", help="Where to write the report (default: reports/drills/NAME)."),
]
Attach = Annotated[
    Path | None,
    typer.Option("--attach", help="State dir of a running platform to use (left running)."),
]
PlatformName = Annotated[
    str,
    typer.Option(
        "--platform",
        help="Where a fresh platform runs: local (processes) or docker (the chart's "
        "rendered workloads as containers).",
    ),
]
PLATFORMS = ("local", "docker")


def find_drill(name_or_file: str) -> Path:
    """A path as given if it exists, else the library drill of that name."""
    path = Path(name_or_file)
    try:
        exists = path.exists()
    except OSError:  # a name the system cannot look up (too long) is no file of ours
        exists = False
    if exists:
        return path
    known = library()
    if name_or_file in known:
        return known[name_or_file]
    fail(f"{name_or_file}: no such file or library drill; known: {', '.join(known)}", 3)


def load_topology_or_fail(path: Path) -> Topology:
    try:
        return load_topology(path)
    except TopologyError as exc:
        fail(str(exc), 3)


async def execute(
    spec: DrillSpec,
    topology_file: Path,
    topology: Topology,
    *,
    attach: Path | None,
    report_dir: Path,
    progress: ProgressSink,
    seed: int = 0,
    tls: bool = False,
    platform_name: str = "local",
) -> tuple[Report, bool]:
    """Run ``spec`` on a local platform; ``(report, interrupted)``. SIGINT/SIGTERM set
    the run's interrupt (rollbacks run) instead of killing the process."""
    interrupt = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, interrupt.set)
    try:
        async with local_platform(
            topology_file, topology, attach, tls=tls, platform=platform_name
        ) as platform:
            if platform.console_url:
                progress.note(f"live console: {platform.console_url}")
            run = DrillRun(spec, platform, interrupt=interrupt, progress=progress,
                           options=RunOptions(seed=seed))  # fmt: skip
            report = await run_and_write(run, report_dir)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    return report, interrupt.is_set()


def _finish(report: Report, report_dir: Path, as_json: bool, console: Console) -> None:
    if as_json:
        typer.echo(render_json(report), nl=False)
    else:
        for line in summary_lines(report):
            console.print(line, highlight=False, markup=False)
        console.print(f"report: {report_dir / 'report.md'}", highlight=False)
    raise typer.Exit(EXIT[report.verdict])


def with_drill_trends(
    spec: DrillSpec, topology_file: Path, topology: Topology, report_dir: Path
) -> tuple[Path, Topology]:
    """The topology the drill's platform starts with: as given, or, when the drill sets
    ``trends``, the given file with those settings merged over its ``trends`` section,
    written to ``report_dir/topology.yaml`` and loaded (validated) again."""
    if not spec.trends:
        return topology_file, topology
    document = yaml.safe_load(topology_file.read_text(encoding="utf-8"))
    document["trends"] = {**(document.get("trends") or {}), **spec.trends}
    report_dir.mkdir(parents=True, exist_ok=True)
    merged = report_dir / "topology.yaml"
    merged.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return merged, load_topology_or_fail(merged)


def _run(
    spec: DrillSpec, topology_file: Path, topology: Topology, attach: Path | None,
    report_dir: Path, as_json: bool, seed: int = 0, tls: bool = False,
    platform_name: str = "local",
) -> None:  # fmt: skip
    if spec.trends and attach is not None:
        fail(f"drill {spec.name} sets trends: it needs a fresh platform, not --attach", 3)
    topology_file, topology = with_drill_trends(spec, topology_file, topology, report_dir)
    console = Console(stderr=as_json)
    progress: ProgressSink = NullProgress() if as_json else ConsoleProgress(console)
    if not as_json:
        where = f"attached to {attach}" if attach else f"starting a {platform_name} platform"
        console.print(f"drill {spec.name}: {spec.title} ({where})", highlight=False, markup=False)
    try:
        report, _ = asyncio.run(
            execute(
                spec,
                topology_file,
                topology,
                attach=attach,
                report_dir=report_dir,
                progress=progress,
                seed=seed,
                tls=tls,
                platform_name=platform_name,
            )
        )
    except PlatformError as exc:
        progress.close()
        fail(str(exc), 3)
    _finish(report, report_dir, as_json, console)


@group.command("run")
def run(
    drill: Annotated[str, typer.Argument(help="Drill file, or a library drill's name.")],
    report_dir: ReportDir = None,
    as_json: JsonFlag = False,
    platform: PlatformName = "local",
    attach: Attach = None,
    topology_file: TopologyFile = Path("topology.yaml"),
    seed: Annotated[int, typer.Option(help="Seed of the load's plan.")] = 0,
    tls: Annotated[
        bool, typer.Option("--tls", help="Start the platform with mutual TLS between sites.")
    ] = False,
    rate: Annotated[
        float | None,
        typer.Option(
            min=0.1,
            max=10_000,
            help="Writes per second to offer instead of the drill file's load "
            "rate_per_second (the report states the rate it ran at).",
        ),
    ] = None,
) -> None:
    """Run a drill and write its report; exit 0 only on pass."""
    if platform not in PLATFORMS:
        fail(f"--platform {platform}: choose one of {', '.join(PLATFORMS)}", 3)
    if platform == "docker" and tls:
        fail("--tls is not available on the docker platform yet", 3)
    topology = load_topology_or_fail(topology_file)
    try:
        spec = load_spec(find_drill(drill), topology)
    except DrillSpecError as exc:
        fail(str(exc), 3)
    if rate is not None:
        spec = spec.at_rate(rate)
    directory = report_dir or Path("reports/drills") / str(spec.name)
    if tls and attach is not None:
        fail("--tls starts a platform; an --attach-ed one keeps the TLS it was started with", 3)
    _run(spec, topology_file, topology, attach, directory, as_json, seed, tls, platform)


@group.command("list")
def list_drills(as_json: JsonFlag = False) -> None:
    """The standard drill library."""
    rows = []
    for name, path in library().items():
        spec = load_spec(path)
        rows.append({"name": name, "title": spec.title, "file": str(path)})
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        typer.echo(f"{r['name']:<{width}}  {r['title']}")


@group.command("chaos")
def chaos(
    seed: Annotated[int, typer.Option(help="Seed of the fault sequence (and of the load).")],
    duration: Annotated[float, typer.Option(help="Seconds of load.")] = 40.0,
    report_dir: ReportDir = None,
    as_json: JsonFlag = False,
    attach: Attach = None,
    topology_file: TopologyFile = Path("topology.yaml"),
) -> None:
    """Random faults and heals from the library vocabulary; invariants only."""
    topology = load_topology_or_fail(topology_file)
    try:
        spec = plan_chaos(seed, duration, topology)
    except (ValueError, DrillSpecError) as exc:
        fail(str(exc), 3)
    if not as_json:
        for step in spec.method:
            typer.echo(f"  plan: t={step.at:g} s  {step.describe()}")
    directory = report_dir or Path("reports/drills") / str(spec.name)
    _run(spec, topology_file, topology, attach, directory, as_json, seed)
