"""The ``watertight`` command line. Each command group lives in ``watertight.commands``."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import typer

from watertight.commands import (
    control,
    demo,
    disaster,
    drill,
    fault,
    kind,
    monitoring,
    platform,
    topology,
)
from watertight.commands.common import echo_error, forget_json

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
cli.add_typer(monitoring.group, name="monitoring")
platform.register(cli)
control.register(cli)

# typer raises its own copy of click's errors (0.2x) or click's (older): reach the base
# class through the public BadParameter either way.
_ClickException: type[Exception] = next(
    k for k in typer.BadParameter.__mro__ if k.__name__ == "ClickException"
)


@cli.callback()
def _root() -> None:
    forget_json()


def main(args: Sequence[str] | None = None) -> None:
    """Console-script entry point. Under ``--json`` a usage error (unknown option, missing
    or malformed value) is a JSON error on stdout too, with click's exit status 2."""
    argv = list(sys.argv[1:] if args is None else args)
    if "--json" not in argv:
        cli(args=argv)
        return
    try:
        status = cli(args=argv, standalone_mode=False)
    except _ClickException as exc:
        echo_error("usage", getattr(exc, "format_message", exc.__str__)())
        sys.exit(getattr(exc, "exit_code", 2))
    except typer.Abort:
        echo_error("aborted", "aborted")
        sys.exit(1)
    sys.exit(status if isinstance(status, int) else 0)
