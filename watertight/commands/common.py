"""Options and error handling shared by the command groups."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn

import typer

TopologyFile = Annotated[
    Path, typer.Option("--topology", "-t", help="Topology YAML file.", show_default=True)
]
StateDir = Annotated[
    Path,
    typer.Option(
        "--state-dir",
        envvar="WATERTIGHT_STATE_DIR",
        help="Where the local platform keeps pids, logs, data and its token.",
        show_default=True,
    ),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON (machine-readable).")]


def fail(message: str, code: int = 1) -> NoReturn:
    """Print ``error: message`` on stderr and exit with ``code``."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)
