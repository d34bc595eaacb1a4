"""Options and error handling shared by the command groups.

Errors: ``error: <what went wrong>`` on stderr, exit status non-zero. Under ``--json``,
stdout carries exactly one JSON document either way: the answer, or on failure
``{"error": <code>, "detail": <what went wrong>}`` (and the same exit status), so a
script parsing stdout never meets plain text.
"""

from __future__ import annotations

import json
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


class _Output:
    """Whether this invocation asked for ``--json``: set while its options are parsed,
    reset by the root command first (tests run many invocations in one process)."""

    json = False


def remember_json(value: bool) -> bool:
    """The ``--json`` option's callback."""
    _Output.json = bool(value)
    return value


def forget_json() -> None:
    """Called by the root command before any subcommand parses its options."""
    _Output.json = False


JsonFlag = Annotated[
    bool, typer.Option("--json", help="Print JSON (machine-readable).", callback=remember_json)
]


def fail(message: str, code: int = 1, *, error: str = "failed") -> NoReturn:
    """Say ``message`` (``error`` is its machine code under ``--json``) and exit ``code``."""
    if json_requested():
        echo_error(error, message)
    else:
        typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def echo_error(error: str, detail: str) -> None:
    """The ``--json`` form of an error, on stdout."""
    typer.echo(json.dumps({"error": error, "detail": detail}, sort_keys=True))


def json_requested() -> bool:
    """Whether the running command was given ``--json``."""
    return _Output.json
