"""The ``watertight`` command line. Each command group lives in ``watertight.commands``."""

from __future__ import annotations

import typer

from watertight.commands import control, demo, disaster, drill, fault, kind, platform, topology

cli = typer.Typer(
    name="watertight",
    help="Multi-site deployment and failover orchestrator (three places, two centers).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
cli.add_typer(topology.group, name="topology")
cli.command("demo")(demo.demo)
cli.add_typer(kind.group, name="kind")
cli.add_typer(fault.group, name="fault")
cli.add_typer(disaster.group, name="disaster")
cli.add_typer(drill.group, name="drill")
platform.register(cli)
control.register(cli)


def main() -> None:
    """Console-script entry point."""
    cli()
