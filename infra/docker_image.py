"""Build the project image (``Dockerfile``), offline when no registry is reachable.

- :func:`ensure_base_image` provides ``watertight-base:bookworm`` without Docker Hub: a
  ``debootstrap --variant=minbase`` Debian root (python3, venv, CA certificates) turned
  into an image with ``docker import``; the tarball is cached and reused.
- :func:`build_image` copies the sources into a scratch build context, builds every
  wheel on the host (host pip and its local indexes) into ``wheels/``, and runs
  ``docker build`` so pip inside the build installs with ``--no-index``.

CLI: ``python -m infra.docker_image --tag watertight:dev [--local-base | --base-image IMG]``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_BASE_IMAGE = "python:3.11-slim"
LOCAL_BASE_IMAGE = "watertight-base:bookworm"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
CONTEXT_ITEMS = (
    "Dockerfile",
    ".dockerignore",
    "pyproject.toml",
    "README.md",
    "topology.yaml",
    "app",
    "failover",
    "drills",
    "infra",
    "watertight",
)
SOURCE_LABEL = "io.watertight.source"
"""Image label holding :func:`source_digest` of the sources it was built from."""
BUILD_TIMEOUT_SECONDS = 1800
DEBOOTSTRAP_TIMEOUT_SECONDS = 1800


class DockerImageError(RuntimeError):
    """Building the image or its base failed; the message says which step and why."""


def docker_binary() -> str:
    """``/usr/bin/docker`` (the distribution's client) if present, else ``docker`` on PATH."""
    if Path("/usr/bin/docker").exists():
        return "/usr/bin/docker"
    found = shutil.which("docker")
    if found is None:
        raise DockerImageError("docker not found: apt-get install -y docker.io (docs/design.md §7)")
    return found


def cache_dir() -> Path:
    """Where the base rootfs tarball is kept: ``$WATERTIGHT_CACHE_DIR`` or ~/.cache/watertight."""
    configured = os.environ.get("WATERTIGHT_CACHE_DIR")
    return Path(configured) if configured else Path.home() / ".cache" / "watertight"


def _run(command: Sequence[str], timeout: float, step: str) -> str:
    try:
        done = subprocess.run(
            list(command), capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise DockerImageError(f"{step}: timed out after {timeout:.0f} s") from exc
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip()[-2000:]
        raise DockerImageError(f"{step} failed (exit {done.returncode}): {tail}")
    return done.stdout


def engine_answers(docker: str | None = None, timeout: float = 15) -> bool:
    """True when a Docker engine answers ``docker version`` within ``timeout`` seconds."""
    try:
        _run(
            [docker or docker_binary(), "version", "--format", "{{.Server.Version}}"],
            timeout,
            "docker version",
        )
    except DockerImageError:
        return False
    return True


def image_exists(tag: str, docker: str | None = None) -> bool:
    try:
        _run([docker or docker_binary(), "image", "inspect", tag], 30, "docker image inspect")
    except DockerImageError:
        return False
    return True


def ensure_base_image(tag: str = LOCAL_BASE_IMAGE, cache: Path | None = None) -> str:
    """Make ``tag`` exist locally: already there, or imported from the cached tarball, or
    debootstrapped (root, network to the Debian mirror) and then imported. Returns ``tag``."""
    docker = docker_binary()
    if image_exists(tag, docker):
        return tag
    tarball = (cache or cache_dir()) / "base-bookworm.tar"
    if not tarball.exists():
        _debootstrap_tarball(tarball)
    _run([docker, "import", str(tarball), tag], 600, f"docker import {tarball}")
    return tag


def _debootstrap_tarball(tarball: Path) -> None:
    if shutil.which("debootstrap") is None:
        raise DockerImageError(
            f"no {LOCAL_BASE_IMAGE} image and no cached {tarball}: "
            "apt-get install -y debootstrap (needs root), or pass --base-image"
        )
    tarball.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="watertight-rootfs-", dir=tarball.parent) as root:
        _run(
            [
                "debootstrap",
                "--variant=minbase",
                "--include=python3,python3-venv,ca-certificates",
                "bookworm",
                root,
                DEBIAN_MIRROR,
            ],
            DEBOOTSTRAP_TIMEOUT_SECONDS,
            "debootstrap bookworm",
        )
        partial = tarball.with_suffix(".partial")
        _run(["tar", "-C", root, "-cf", str(partial), "."], 600, "tar rootfs")
        partial.replace(tarball)


def prepare_context(context: Path, repo_root: Path = REPO_ROOT, wheels: bool = True) -> Path:
    """Copy the sources into ``context`` and (``wheels``) build every wheel into it."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build")
    for item in CONTEXT_ITEMS:
        source = repo_root / item
        if source.is_dir():
            shutil.copytree(source, context / item, ignore=ignore)
        else:
            shutil.copy2(source, context / item)
    if wheels:
        _run(
            [
                sys.executable,
                "-m",
                "pip",
                "wheel",
                "--quiet",
                str(context),
                "-w",
                str(context / "wheels"),
            ],
            1200,
            "pip wheel (host)",
        )
        shutil.rmtree(context / "build", ignore_errors=True)
    return context


def _sources(repo_root: Path) -> list[Path]:
    found: list[Path] = []
    for item in CONTEXT_ITEMS:
        source = repo_root / item
        if source.is_file():
            found.append(source)
        elif source.is_dir():
            found.extend(
                path
                for path in sorted(source.rglob("*"))
                if path.is_file()
                and "__pycache__" not in path.parts
                and not any(part.endswith(".egg-info") or part == "build" for part in path.parts)
                and path.suffix != ".pyc"
            )
    return found


def source_digest(repo_root: Path = REPO_ROOT) -> str:
    """A digest of every file the image is built from (its build context's sources)."""
    digest = hashlib.sha256()
    for path in _sources(repo_root):
        digest.update(str(path.relative_to(repo_root)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def image_source(tag: str, docker: str | None = None) -> str | None:
    """The :data:`SOURCE_LABEL` of image ``tag``; None when there is no such image."""
    try:
        out = _run(
            [docker or docker_binary(), "image", "inspect", "--format",
             f'{{{{ index .Config.Labels "{SOURCE_LABEL}" }}}}', tag],
            30, "docker image inspect",
        )  # fmt: skip
    except DockerImageError:
        return None
    return out.strip()


def ensure_image(tag: str) -> str:
    """Make ``tag`` an image of the sources as they are now: kept when its
    :data:`SOURCE_LABEL` matches :func:`source_digest`, else built on the local base."""
    if image_source(tag) != source_digest():
        build_image(tag, ensure_base_image(LOCAL_BASE_IMAGE))
    return tag


def build_image(tag: str, base_image: str = DEFAULT_BASE_IMAGE, offline: bool = True) -> str:
    """Build the Dockerfile as ``tag`` on ``base_image``; ``offline`` uses host-built wheels.
    The image is labelled with the :func:`source_digest` of what it was built from."""
    docker = docker_binary()
    label = f"{SOURCE_LABEL}={source_digest()}"
    with tempfile.TemporaryDirectory(prefix="watertight-image-") as tmp:
        context = prepare_context(Path(tmp), wheels=offline)
        _run(
            [docker, "build", "--build-arg", f"BASE_IMAGE={base_image}", "--label", label,
             "-t", tag, str(context)],
            BUILD_TIMEOUT_SECONDS,
            f"docker build {tag}",
        )  # fmt: skip
    return tag


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the watertight image.")
    parser.add_argument("--tag", default="watertight:dev")
    base = parser.add_mutually_exclusive_group()
    base.add_argument(
        "--base-image", default=DEFAULT_BASE_IMAGE, help="FROM image (ARG BASE_IMAGE)"
    )
    base.add_argument(
        "--local-base", action="store_true", help=f"use {LOCAL_BASE_IMAGE} (debootstrap)"
    )
    parser.add_argument("--online", action="store_true", help="let pip in the build use PyPI")
    args = parser.parse_args(argv)
    try:
        base_image = ensure_base_image() if args.local_base else args.base_image
        print(build_image(args.tag, base_image, offline=not args.online))
    except DockerImageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
