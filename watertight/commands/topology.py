"""``watertight topology validate|show``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from failover.topology import TopologyError, describe, load_topology
from watertight.commands.common import JsonFlag, TopologyFile, fail

group = typer.Typer(help="Validate and show topology files.", no_args_is_help=True)


@group.command("validate")
def validate(file: Annotated[Path, typer.Argument(help="Topology YAML file.")]) -> None:
    """Validate FILE; exit 1 with file, field path and reason when it is wrong."""
    try:
        topology = load_topology(file)
    except TopologyError as exc:
        fail(str(exc))
    typer.echo(
        f"{file}: ok ({len(topology.sites)} sites, {len(topology.units)} units, "
        f"{topology.buckets} buckets)"
    )


@group.command("show")
def show(topology_file: TopologyFile = Path("topology.yaml"), as_json: JsonFlag = False) -> None:
    """Show units, their primary and standby sites and bucket ranges."""
    try:
        topology = load_topology(topology_file)
    except TopologyError as exc:
        fail(str(exc))
    rows = describe(topology)
    if as_json:
        typer.echo(json.dumps({"name": topology.name, "units": rows}, indent=2))
        return
    table = Table(title=f"topology {topology.name} ({topology_file})")
    for column in ("unit", "primary", "city standby", "remote standby", "buckets"):
        table.add_column(column)
    for row in rows:
        table.add_row(*row.values())
    Console().print(table)
