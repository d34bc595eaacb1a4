"""Create, load and deploy the kind rehearsal by shelling out to kind, docker and pulumi.

Every command is planned as a :class:`Step` (pure functions ``*_steps``) and carried out
by :func:`run_step`; a missing tool is reported before anything runs, with where to get
it. Nothing here can run on machines without Docker Hub (docs/design.md §7): tests cover the
plans and the missing-tool errors; ``.github/workflows/kind-e2e.yml`` runs the rest.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from infra.pulumi.site_values import KIND_NETWORK, KIND_NETWORK_CIDR

KIND_DIR = Path(__file__).resolve().parent
PULUMI_DIR = KIND_DIR.parent / "pulumi"
INSTALL_HINTS = {
    "kind": "https://kind.sigs.k8s.io/docs/user/quick-start/#installation",
    "docker": "https://docs.docker.com/engine/install/ (Debian: apt-get install docker.io)",
    "pulumi": "https://www.pulumi.com/docs/install/",
}
PREFERRED_PATHS = {"docker": "/usr/bin/docker"}
"""The distribution's docker client wins over any other ``docker`` on PATH (docs/design.md §7)."""
STEP_TIMEOUT_SECONDS = 900
DEPLOY_TIMEOUT_SECONDS = 1800


class RehearsalError(RuntimeError):
    """A step of the rehearsal failed; the message names the command and its output."""


class ToolMissingError(RehearsalError):
    """A required command-line tool is not installed."""


@dataclass(frozen=True)
class Step:
    """One command: argv, extra environment, working directory, optional stdin."""

    argv: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    stdin: str | None = None
    """May carry a secret (the credentials): never part of :meth:`describe`."""

    def describe(self) -> str:
        return " ".join(self.argv)


def available_sites() -> tuple[str, ...]:
    """Sites with a kind config in ``infra/kind`` (in topology order where known)."""
    order = ("production", "same-city", "remote-dr")
    found = {p.stem for p in KIND_DIR.glob("*.yaml")}
    return tuple(s for s in order if s in found) + tuple(sorted(found - set(order)))


def choose_sites(requested: Sequence[str] | None) -> tuple[str, ...]:
    """The requested sites (default all), or :class:`RehearsalError` naming unknown ones."""
    known = available_sites()
    if not requested:
        return known
    unknown = [s for s in requested if s not in known]
    if unknown:
        raise RehearsalError(
            f"unknown site {unknown[0]!r}; kind configs exist for {', '.join(known)}"
        )
    return tuple(requested)


def require_tool(name: str, which: Callable[[str], str | None] = shutil.which) -> str:
    """Path of ``name`` (:data:`PREFERRED_PATHS` first), else :class:`ToolMissingError`."""
    preferred = PREFERRED_PATHS.get(name)
    if preferred and Path(preferred).exists():
        return preferred
    found = which(name)
    if found is None:
        raise ToolMissingError(f"{name} not found on PATH; install from {INSTALL_HINTS[name]}")
    return found


def kind_env() -> dict[str, str]:
    """kind puts its nodes on this network instead of its default ``kind``."""
    return {"KIND_EXPERIMENTAL_DOCKER_NETWORK": KIND_NETWORK}


def up_steps(
    kind: str, docker: str, sites: Iterable[str], existing: Iterable[str], network_exists: bool
) -> list[Step]:
    """Create the shared network (if absent) and each missing cluster from its config."""
    steps = []
    if not network_exists:
        steps.append(
            Step((docker, "network", "create", "--subnet", KIND_NETWORK_CIDR, KIND_NETWORK))
        )
    present = set(existing)
    for site in sites:
        if site not in present:
            config = str(KIND_DIR / f"{site}.yaml")
            steps.append(
                Step((kind, "create", "cluster", "--name", site, "--config", config), kind_env())
            )
    return steps


def down_steps(kind: str, docker: str, sites: Iterable[str], remove_network: bool) -> list[Step]:
    """Delete each cluster; then the network when every site is gone."""
    steps = [Step((kind, "delete", "cluster", "--name", site)) for site in sites]
    if remove_network:
        steps.append(Step((docker, "network", "rm", KIND_NETWORK)))
    return steps


def load_steps(kind: str, tag: str, sites: Iterable[str]) -> list[Step]:
    """Copy the image ``tag`` from the local engine into every site's node."""
    return [Step((kind, "load", "docker-image", tag, "--name", site)) for site in sites]


def pulumi_env(state_dir: Path) -> dict[str, str]:
    """A local file backend in ``state_dir``; the passphrase is kept next to it (0600)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    passphrase = os.environ.get("PULUMI_CONFIG_PASSPHRASE") or _kept_secret(
        state_dir / "passphrase"
    )
    return {
        "PULUMI_BACKEND_URL": f"file://{state_dir.resolve()}",
        "PULUMI_CONFIG_PASSPHRASE": passphrase,
        "PULUMI_SKIP_UPDATE_CHECK": "true",
    }


def credentials(state_dir: Path) -> str:
    """The per-role credentials shared by the three sites, as the JSON object the stacks'
    ``watertight:credentials`` holds; generated once into ``state_dir`` (mode 0600)."""
    path = state_dir / "credentials.json"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        roles = {role: secrets.token_urlsafe(32) for role in ("replication", "admin", "operator")}
        roles["approvers"] = f"rehearsal {secrets.token_urlsafe(32)}"
        path.write_text(json.dumps(roles), encoding="utf-8")
    return path.read_text(encoding="utf-8").strip()


def _kept_secret(path: Path) -> str:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(32), encoding="utf-8")
    return path.read_text(encoding="utf-8").strip()


def stack_steps(pulumi: str, stack: str, env: Mapping[str, str], token: str) -> list[Step]:
    """Select/create ``stack`` and give it the shared credentials ``token`` (the JSON of
    :func:`credentials`; via stdin, not argv)."""
    return [
        Step((pulumi, "stack", "select", "--create", stack, "--non-interactive"), env, PULUMI_DIR),
        Step(
            (pulumi, "config", "set", "--secret", "watertight:credentials", "--stack", stack),
            env,
            PULUMI_DIR,
            stdin=token,
        ),
    ]


def up_stack_step(pulumi: str, stack: str, env: Mapping[str, str]) -> Step:
    """``pulumi up`` for one stack; the three run concurrently (etcd needs all members)."""
    argv = (pulumi, "up", "--yes", "--skip-preview", "--non-interactive", "--stack", stack)
    return Step(argv, env, PULUMI_DIR)


def run_step(step: Step, timeout: float = STEP_TIMEOUT_SECONDS) -> str:
    """Run one step; :class:`RehearsalError` with the command and its output on failure."""
    try:
        done = subprocess.run(
            list(step.argv),
            input=step.stdin,
            env={**os.environ, **step.env},
            cwd=step.cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise RehearsalError(f"{step.describe()}: timed out after {timeout:.0f} s") from exc
    if done.returncode != 0:
        output = (done.stderr or done.stdout).strip()[-2000:]
        raise RehearsalError(f"{step.describe()} failed (exit {done.returncode}): {output}")
    return done.stdout


def run_concurrently(steps: Sequence[Step], timeout: float = DEPLOY_TIMEOUT_SECONDS) -> None:
    """Start every step, wait for all; :class:`RehearsalError` listing those that failed."""
    procs = [
        (
            step,
            subprocess.Popen(
                list(step.argv),
                env={**os.environ, **step.env},
                cwd=step.cwd,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            ),
        )
        for step in steps
    ]
    failures = []
    for step, proc in procs:
        try:
            output, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            output, _ = proc.communicate()
        if proc.returncode != 0:
            failures.append(f"{step.describe()} (exit {proc.returncode}): {output[-1500:]}")
    if failures:
        raise RehearsalError("; ".join(failures))
