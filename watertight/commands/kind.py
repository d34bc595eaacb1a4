"""``watertight kind up|down|load-image|deploy``: the kind rehearsal (docs/kubernetes.md)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Annotated

import typer

from infra.docker_image import DEFAULT_BASE_IMAGE, DockerImageError, build_image
from infra.kind import rehearsal
from infra.kind.rehearsal import RehearsalError, Step
from infra.pulumi.site_values import KIND_NETWORK

group = typer.Typer(
    help="Rehearse on three local kind clusters (needs Docker, kind and Pulumi).",
    no_args_is_help=True,
)

Sites = Annotated[
    list[str] | None,
    typer.Option("--site", help="Only this site (repeatable); default: all three."),
]
DEFAULT_STATE_DIR = Path(".watertight/kind")


def _fail(exc: Exception) -> typer.Exit:
    typer.echo(f"error: {exc}", err=True)
    return typer.Exit(1)


def _run(steps: list[Step]) -> None:
    for step in steps:
        typer.echo(f"$ {step.describe()}")
        rehearsal.run_step(step)


@group.command("up")
def up(site: Sites = None) -> None:
    """Create the kind clusters (one per site) on the shared Docker network."""
    try:
        sites = rehearsal.choose_sites(site)
        docker = rehearsal.require_tool("docker")
        kind = rehearsal.require_tool("kind")
        existing = rehearsal.run_step(Step((kind, "get", "clusters"))).split()
        network = subprocess.run(
            [docker, "network", "inspect", KIND_NETWORK],
            capture_output=True,
            check=False,
            timeout=60,
        )
        _run(rehearsal.up_steps(kind, docker, sites, existing, network.returncode == 0))
    except RehearsalError as exc:
        raise _fail(exc) from exc
    typer.echo(f"clusters ready: {', '.join(f'kind-{s}' for s in sites)}")


@group.command("down")
def down(site: Sites = None) -> None:
    """Delete the kind clusters (and the network when all sites go)."""
    try:
        sites = rehearsal.choose_sites(site)
        docker = rehearsal.require_tool("docker")
        kind = rehearsal.require_tool("kind")
        everything = set(sites) == set(rehearsal.available_sites())
        _run(rehearsal.down_steps(kind, docker, sites, remove_network=everything))
    except RehearsalError as exc:
        raise _fail(exc) from exc


@group.command("load-image")
def load_image(
    site: Sites = None,
    tag: Annotated[str, typer.Option(help="Image tag to build and load.")] = "watertight:dev",
    base_image: Annotated[
        str, typer.Option(help="FROM image of the build (ARG BASE_IMAGE).")
    ] = DEFAULT_BASE_IMAGE,
    build: Annotated[bool, typer.Option(help="Build the image first.")] = True,
) -> None:
    """Build the project image and load it into every site's kind node."""
    try:
        sites = rehearsal.choose_sites(site)
        rehearsal.require_tool("docker")
        kind = rehearsal.require_tool("kind")
        if build:
            typer.echo(f"building {tag} on {base_image}")
            build_image(tag, base_image)
        _run(rehearsal.load_steps(kind, tag, sites))
    except (RehearsalError, DockerImageError) as exc:
        raise _fail(exc) from exc


@group.command("deploy")
def deploy(
    site: Sites = None,
    state_dir: Annotated[
        Path, typer.Option(help="Pulumi file backend, passphrase and credentials.")
    ] = DEFAULT_STATE_DIR,
) -> None:
    """Run pulumi up for the stacks (one per site) with a local file backend."""
    try:
        sites = rehearsal.choose_sites(site)
        pulumi = rehearsal.require_tool("pulumi")
        env = rehearsal.pulumi_env(state_dir)
        token = rehearsal.credentials(state_dir)
        for stack in sites:
            _run(rehearsal.stack_steps(pulumi, stack, env, token))
        ups = [rehearsal.up_stack_step(pulumi, stack, env) for stack in sites]
        typer.echo("$ " + " & ".join(step.describe() for step in ups))
        rehearsal.run_concurrently(ups)
    except RehearsalError as exc:
        raise _fail(exc) from exc
    typer.echo(f"deployed: {', '.join(sites)} (state in {state_dir})")
