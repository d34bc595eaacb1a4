"""``watertight up | status | down`` on the docker platform (infra/docker/platform.py).

The platform's customer entry for the CLI and the drills is the witness site's router
(the DR site's: no library drill takes it down); every site's router, controller and etcd
member is listed too. ``status`` adds each unit's route, read from etcd.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from failover.dcs import DcsError, EtcdDcs, RouteStore
from failover.topology import TopologyError, load_topology
from infra.docker.engine import EngineError
from infra.docker.platform import DockerPlatform
from infra.docker.state import DockerPlatformError, DockerState
from watertight.commands.common import fail
from watertight.status import console_url_of, controller_status

Errors = (DockerPlatformError, EngineError, TopologyError, OSError)


def summary(state: DockerState) -> dict[str, Any]:
    """What ``up --json`` and ``status --json`` both say: where the platform answers."""
    witness = load_topology(Path(state.topology_file)).dr_site
    controllers = [state.controller_urls[s] for s in state.sites if s in state.controller_urls]
    return {
        "platform": "docker",
        "state_dir": state.state_dir,
        "router_url": state.router_urls.get(witness) or next(iter(state.router_urls.values())),
        "router_urls": state.router_urls,
        "controller_urls": controllers,
        "etcd_client_urls": state.etcd_client_urls,
        "console_url": console_url_of(controllers),
        "processes": len(state.containers),
        "containers": len(state.containers),
    }


def up(
    topology_file: Path,
    state_dir: Path,
    image: str,
    build: bool,
    as_json: bool,
    wan_gateways: bool = False,
) -> None:
    console = Console(stderr=True)

    def progress(phase: str, done: int, total: int) -> None:
        if not as_json and phase != "waiting for readiness":
            console.print(f"{phase} {done}/{total}", highlight=False)

    try:
        state = DockerPlatform(state_dir).up(
            topology_file, image, build, progress, wan_gateways=wan_gateways
        )
    except Errors as exc:
        fail(str(exc))
    found = summary(state)
    if as_json:
        typer.echo(json.dumps(found, indent=2))
        return
    console.print(
        f"[green]up[/green] (docker): {len(state.containers)} containers ready; router "
        f"{found['router_url']}; state in {state.state_dir}"
    )


def down(state_dir: Path, as_json: bool) -> None:
    try:
        removed = DockerPlatform(state_dir).down()
    except Errors as exc:
        fail(str(exc))
    if as_json:
        typer.echo(
            json.dumps({"platform": "docker", "removed": removed, "state_dir": str(state_dir)})
        )
        return
    typer.echo(
        f"down (docker): removed {removed['container']} containers, {removed['network']} "
        f"networks and {removed['volume']} volumes"
    )


def status(state_dir: Path, as_json: bool) -> None:
    platform = DockerPlatform(state_dir)
    try:
        state = platform.state()
        containers = platform.status()["containers"]
    except Errors as exc:
        fail(str(exc))
    control = controller_status(list(state.controller_urls.values()))
    report = {
        **summary(state),
        "leader": control.get("leader"),
        "site_verdicts": control.get("sites", {}),
        "approvals": control.get("approvals", []),
        **_routes(state),
        "containers": containers,
    }
    if as_json:
        typer.echo(json.dumps(report, indent=2, sort_keys=True))
        return
    _render(report, Console())


def _routes(state: DockerState) -> dict[str, Any]:
    topology = load_topology(Path(state.topology_file))
    dcs = EtcdDcs(list(state.etcd_client_urls.values()), timeout=1.0)
    try:
        routes = RouteStore(dcs, topology.name).all_routes()
        found = {u: {"site": r.site, "epoch": r.epoch} for u, r in routes.items()}
        return {"routes": found, "routes_error": None}
    except DcsError as exc:
        return {"routes": {}, "routes_error": str(exc)}
    finally:
        dcs.close()


def _render(report: dict[str, Any], console: Console) -> None:
    console.print(f"docker platform; router {report['router_url']}; leader {report['leader']}")
    table = Table("container", "site", "state", "ready", "address")
    for row in report["containers"]:
        ready = "[green]yes[/green]" if row["ready"] else "[red]no[/red]"
        table.add_row(row["pod"], row["site"], row["state"], ready, row["address"])
    console.print(table)
    for unit, route in sorted(report["routes"].items()):
        console.print(f"{unit}: primary {route['site']} (epoch {route['epoch']})")
    if report["routes_error"]:
        console.print(f"[red]routes unavailable:[/red] {report['routes_error']}")
