"""The ``watertight`` command line. Each command group lives in ``watertight.commands``."""

from __future__ import annotations

import typer

from watertight.commands import topology

cli = typer.Typer(
    name="watertight",
    help="Multi-site deployment and failover orchestrator (three places, two centers).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
cli.add_typer(topology.group, name="topology")


def main() -> None:
    """Console-script entry point."""
    cli()
