"""``watertight monitoring prometheus-config`` — scrape the running local platform."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
import yaml

from infra.local.platform import LocalPlatform
from infra.local.scrape_config import scrape_config
from infra.local.state import PlatformError
from watertight.commands.common import StateDir, fail

group = typer.Typer(help="Monitoring of the local platform.", no_args_is_help=True)


@group.command("prometheus-config")
def prometheus_config(
    state_dir: StateDir = Path(".watertight"),
    rules: Annotated[
        Path, typer.Option(help="Alert rules to load (docs/monitoring.md).", show_default=True)
    ] = Path("monitoring/prometheus/rules.yml"),
    interval: Annotated[
        float, typer.Option(min=0.1, help="Scrape and rule-evaluation interval, seconds.")
    ] = 5.0,
) -> None:
    """Print a prometheus.yml that scrapes every component of the running platform and
    loads RULES (by absolute path, so prometheus may run from anywhere)."""
    if not rules.is_file():
        fail(f"--rules {rules}: no such file (run from the repository, or give its path)")
    try:
        state = LocalPlatform(state_dir).state()
    except PlatformError as exc:
        fail(str(exc))
    config = scrape_config(state, [str(rules.resolve())], interval)
    typer.echo(yaml.safe_dump(config, sort_keys=False), nl=False)
