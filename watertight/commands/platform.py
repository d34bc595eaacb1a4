"""``watertight up | status | down`` — the local platform's lifecycle."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from failover.dcs import DcsError, EtcdDcs, RouteStore
from failover.topology import Topology, TopologyError, load_topology
from infra.docker.platform import DEFAULT_IMAGE
from infra.docker.state import is_docker_platform
from infra.local.platform import LocalPlatform
from infra.local.state import PlatformError
from watertight.commands import docker_platform
from watertight.commands.common import JsonFlag, StateDir, TopologyFile, fail
from watertight.status import collect_status, console_url_of, controller_status, render_status

PLATFORMS = ("local", "docker")
Platform = Annotated[
    str | None,
    typer.Option(
        "--platform",
        help="local (processes, the default) or docker (the chart's rendered workloads as "
        "containers). Later commands find it from the state dir.",
    ),
]


def _is_docker(state_dir: Path, platform: str | None) -> bool:
    """Whether a command acts on the docker platform: as asked, else as the state dir says."""
    if platform is not None and platform not in PLATFORMS:
        fail(f"--platform {platform}: choose one of {', '.join(PLATFORMS)}")
    return platform == "docker" or (platform is None and is_docker_platform(state_dir))


def seed_routes(topology: Topology, endpoints: list[str]) -> None:
    """Write each unit's initial route (its placement's primary, epoch 1) where absent."""
    dcs = EtcdDcs(endpoints, timeout=2.0)
    try:
        RouteStore(dcs, topology.name).seed(topology)
    finally:
        dcs.close()


def up(
    topology_file: TopologyFile = Path("topology.yaml"),
    state_dir: StateDir = Path(".watertight"),
    platform: Platform = None,
    image: Annotated[
        str, typer.Option(help="With --platform docker: the image every workload runs.")
    ] = DEFAULT_IMAGE,
    build: Annotated[
        bool, typer.Option(help="With --platform docker: build the image when it is missing.")
    ] = True,
    wan_gateways: Annotated[
        bool,
        typer.Option(
            "--wan-gateways",
            help="With --platform docker: carry the WAN through a link proxy per site, which "
            "holds the sites' distances and makes `fault slow` possible (docs/kubernetes.md).",
        ),
    ] = False,
    router_port: Annotated[int, typer.Option(help="Router port (0 = any free).")] = 0,
    tls: Annotated[
        bool,
        typer.Option(
            "--tls",
            help="Mutual TLS between sites, from a CA made for this platform "
            "(state-dir/tls; a restart keeps what the first start chose).",
        ),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Start every site in the background; return once everything is ready.

    If the state dir holds a platform (stopped by `down`, or whose processes died), it
    is restarted on its data and ports instead: nothing acknowledged is ever discarded.
    """
    if wan_gateways and not _is_docker(state_dir, platform):
        fail("--wan-gateways is for --platform docker (the local platform has its link proxy)")
    if _is_docker(state_dir, platform):
        if tls:
            fail("--tls is not available on the docker platform yet")
        docker_platform.up(topology_file, state_dir, image, build, as_json, wan_gateways)
        return
    local = LocalPlatform(state_dir)
    console = Console(stderr=True)
    restarted: list[str] = []

    def notify(sentence: str) -> None:
        restarted.append(sentence)
        console.print(sentence, highlight=False, markup=False, soft_wrap=True)

    try:
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            # Off the terminal a transient bar cannot erase itself: it would leave a blank
            # line in logs and before a one-line error.
            disable=as_json or not console.is_terminal,
        ) as bar:
            task = bar.add_task("starting", total=1)

            def progress(phase: str, done: int, total: int) -> None:
                bar.update(task, description=phase, completed=done, total=max(total, 1))

            state = local.up(
                topology_file, seed_routes, router_port, progress, notify=notify, tls=tls
            )
    except (PlatformError, TopologyError, DcsError, OSError) as exc:
        fail(str(exc))
    summary = {
        "router_url": state.router_url,
        "controller_urls": state.controller_urls,
        "console_url": _witness_console(topology_file, state.sites, state.controller_urls),
        "state_dir": state.state_dir,
        "etcd_client_urls": state.etcd_client_urls,
        "processes": len(state.processes),
        "restarted": bool(restarted),
        "tls_dir": state.tls_dir or None,
    }
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return
    verb = "restarted" if restarted else "up"
    console.print(
        f"[green]{verb}[/green]: {len(state.processes)} processes ready; router "
        f"{state.router_url}; state in {state.state_dir}"
    )
    console.print(f"console: {summary['console_url']}", highlight=False, soft_wrap=True)


def _witness_console(topology_file: Path, sites: list[str], urls: list[str]) -> str | None:
    """The console of the witness site's controller (remote-dr): it normally leads, and a
    drill that takes a city-A site down leaves it running, so the page stays live; any
    other controller that answers when it does not."""
    witness = load_topology(topology_file).dr_site
    preferred = sorted(zip(sites, urls, strict=True), key=lambda pair: pair[0] != witness)
    return console_url_of([url for _, url in preferred])


def down(
    state_dir: StateDir = Path(".watertight"), platform: Platform = None, as_json: JsonFlag = False
) -> None:
    """Stop every process of the platform; leaves none behind (even after a crashed up).

    Keeps the platform's data and record: `up` in the same state dir restarts it. With
    nothing running, says so and exits 0. The docker platform instead removes every
    container, network and volume it created, its data with them.
    """
    if _is_docker(state_dir, platform):
        docker_platform.down(state_dir, as_json)
        return
    try:
        stopped = LocalPlatform(state_dir).down()
    except (PlatformError, OSError) as exc:
        fail(str(exc))
    if as_json:
        summary = {"stopped": len(stopped), "state_dir": str(state_dir)}
        typer.echo(json.dumps({**summary, "nothing_to_stop": not stopped}))
    elif stopped:
        typer.echo(
            f"down: stopped {len(stopped)} processes; the platform's data stays in "
            f"{state_dir} (`watertight up` restarts it)"
        )
    else:
        typer.echo(f"down: nothing to stop: no platform is running from {state_dir}")


def status(
    state_dir: StateDir = Path(".watertight"), platform: Platform = None, as_json: JsonFlag = False
) -> None:
    """Sites, units (primary site, epoch, standbys and lag) and process health."""
    if _is_docker(state_dir, platform):
        docker_platform.status(state_dir, as_json)
        return
    try:
        report: dict[str, Any] = collect_status(LocalPlatform(state_dir))
    except PlatformError as exc:
        fail(str(exc))
    if as_json:
        typer.echo(json.dumps(report, indent=2, sort_keys=True))
    else:
        render_status(report, Console())


def console(state_dir: StateDir = Path(".watertight"), as_json: JsonFlag = False) -> None:
    """The URL of the live web console: the leading controller's, or else the first
    controller (in the topology's site order) that answers."""
    try:
        urls = LocalPlatform(state_dir).state().controller_urls
    except PlatformError as exc:
        fail(str(exc))
    url = console_url_of(urls, prefer=controller_status(urls).get("leader_url"))
    if url is None:
        fail("no controller answers: the console is served by the controllers")
    if as_json:
        typer.echo(json.dumps({"console_url": url}))
    else:
        typer.echo(url)


def register(cli: typer.Typer) -> None:
    cli.command("up")(up)
    cli.command("console")(console)
    cli.command("down")(down)
    cli.command("status")(status)


__all__ = ["RouteStore", "register", "seed_routes"]
