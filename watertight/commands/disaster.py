"""``watertight disaster declare`` — rebuild the etcd quorum on the one surviving site."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

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
    help="Declare a disaster: the quorum-recovery step when a majority of sites is lost.",
    no_args_is_help=True,
)


@group.command("declare")
def declare(
    survivor: Annotated[str, typer.Option("--survivor", help="The one site left, e.g. remote-dr.")],
    state_dir: StateDir = Path(".watertight"),
) -> None:
    """Rebuild etcd as a one-member cluster on SURVIVOR (the others are declared lost).

    Refused unless etcd has really lost its quorum and every other site's etcd member is
    stopped. Afterwards the surviving site's controller can take approvals and promote;
    `watertight fault site-up SITE` later rejoins a lost site's member afresh (its old
    etcd data is set aside, never started again). See docs/controller.md §12.
    """
    try:
        if is_docker_platform(state_dir):
            sentence = DockerFaults(DockerPlatform(state_dir)).declare_disaster(survivor)
        else:
            sentence = FaultInjector(LocalPlatform(state_dir)).declare_disaster(survivor)
    except (PlatformError, LinkProxyError, *FaultErrors) as exc:
        fail(str(exc))
    typer.echo(sentence)
