"""``watertight fault ...`` — inject and remove faults on the running platform: the local
one, or the docker one when the state dir holds its record (infra/docker/faults.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Protocol

import typer

from infra.docker.faults import DockerFaults, FaultErrors
from infra.docker.platform import DockerPlatform
from infra.docker.state import is_docker_platform
from infra.local.faults import FaultInjector
from infra.local.linkproxy_client import LinkProxyError
from infra.local.platform import LocalPlatform
from infra.local.state import PlatformError
from watertight.commands.common import StateDir, fail

group = typer.Typer(
    help="Inject faults (recorded in <state-dir>/faults.jsonl).", no_args_is_help=True
)

Site = Annotated[str, typer.Argument(help="Site name, e.g. production.")]
Sites = Annotated[
    list[str], typer.Argument(help="One site, or several lost at once: production same-city.")
]


class Faults(Protocol):
    """What both platforms' fault injectors do; each call returns its journalled sentence."""

    def site_down(self, *sites: str) -> str: ...
    def site_up(self, site: str) -> str: ...
    def site_hang(self, site: str) -> str: ...
    def partition(self, a: str, b: str) -> str: ...
    def slow(self, site: str, ms: int) -> str: ...
    def unit_crash(self, unit: str, site: str) -> str: ...
    def gray_unit(self, unit: str, site: str, mode: str, delay_ms: int | None = None) -> str: ...
    def heal(self) -> str: ...


def _run(state_dir: Path, action: Callable[[Faults], str]) -> None:
    try:
        injector: Faults = (
            DockerFaults(DockerPlatform(state_dir))
            if is_docker_platform(state_dir)
            else FaultInjector(LocalPlatform(state_dir))
        )
        sentence = action(injector)
    except (PlatformError, LinkProxyError, *FaultErrors) as exc:
        fail(str(exc))
    typer.echo(sentence)


@group.command("site-down")
def site_down(sites: Sites, state_dir: StateDir = Path(".watertight")) -> None:
    """Cut sites off and kill their processes; several sites are cut off together first."""
    _run(state_dir, lambda f: f.site_down(*sites))


@group.command("site-up")
def site_up(site: Site, state_dir: StateDir = Path(".watertight")) -> None:
    """Bring a downed or hung site back (unit instances restart as standbys)."""
    _run(state_dir, lambda f: f.site_up(site))


@group.command("site-hang")
def site_hang(site: Site, state_dir: StateDir = Path(".watertight")) -> None:
    """SIGSTOP every process of a site (a gray failure)."""
    _run(state_dir, lambda f: f.site_hang(site))


@group.command("partition")
def partition(a: Site, b: Site, state_dir: StateDir = Path(".watertight")) -> None:
    """Cut the link between two sites (blackhole)."""
    _run(state_dir, lambda f: f.partition(a, b))


@group.command("slow")
def slow(
    site: Site,
    ms: Annotated[int, typer.Option("--ms", help="Added latency per chunk, ms.")],
    state_dir: StateDir = Path(".watertight"),
) -> None:
    """Add latency to every link of a site."""
    _run(state_dir, lambda f: f.slow(site, ms))


@group.command("unit-crash")
def unit_crash(
    unit: Annotated[str, typer.Argument(help="Unit name, e.g. u03.")],
    site: Annotated[str, typer.Option("--site", help="Site of the instance to crash.")],
    state_dir: StateDir = Path(".watertight"),
) -> None:
    """SIGKILL one unit instance."""
    _run(state_dir, lambda f: f.unit_crash(unit, site))


@group.command("gray-unit")
def gray_unit(
    unit: Annotated[str, typer.Argument(help="Unit name, e.g. u03.")],
    site: Annotated[str, typer.Option("--site", help="Site of the instance.")],
    mode: Annotated[
        str, typer.Option("--mode", help="decline-all, slow, or none (clear).")
    ] = "decline-all",
    delay_ms: Annotated[
        int | None, typer.Option("--delay-ms", help="With --mode slow: ms per write (500).")
    ] = None,
    state_dir: StateDir = Path(".watertight"),
) -> None:
    """A gray failure in one unit instance: writes declined or slow, probes green."""
    _run(state_dir, lambda f: f.gray_unit(unit, site, mode, delay_ms))


@group.command("heal")
def heal(state_dir: StateDir = Path(".watertight")) -> None:
    """Remove every network fault (links back to pass) and every gray fault."""
    _run(state_dir, lambda f: f.heal())
