"""The Docker engine, through its CLI: the only module of the docker platform that runs
``docker``. Every call either does what it says or raises :class:`EngineError` with the
engine's own words; nothing here decides anything.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence

from infra.docker_image import DockerImageError, docker_binary, engine_answers, image_exists

CALL_TIMEOUT_SECONDS = 120


class EngineError(RuntimeError):
    """A docker command failed; the message has the command and the engine's words."""


class DockerEngine:
    """A Docker engine reached through ``docker`` (``/usr/bin/docker`` first)."""

    def __init__(self, binary: str | None = None) -> None:
        try:
            self._docker = binary or docker_binary()
        except DockerImageError as exc:
            raise EngineError(str(exc)) from exc

    def _run(self, *args: str, timeout: float = CALL_TIMEOUT_SECONDS, check: bool = True) -> str:
        try:
            done = subprocess.run(
                [self._docker, *args], capture_output=True, text=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise EngineError(f"docker {args[0]}: no answer within {timeout:.0f} s") from exc
        if check and done.returncode != 0:
            words = (done.stderr or done.stdout).strip()[-1500:]
            raise EngineError(
                f"docker {' '.join(args[:2])} failed (exit {done.returncode}): {words}"
            )
        return done.stdout

    def answers(self) -> bool:
        """True when the engine answers ``docker version`` within 15 s."""
        return engine_answers(self._docker)

    def image_exists(self, tag: str) -> bool:
        return image_exists(tag, self._docker)

    def create_network(self, name: str, subnet: str, labels: Mapping[str, str]) -> None:
        self._run("network", "create", f"--subnet={subnet}", *_labels(labels), name)

    def subnets(self) -> list[str]:
        """Every IPv4 subnet the engine's networks use."""
        names = self._run("network", "ls", "--format", "{{.Name}}").split()
        if not names:
            return []
        template = "{{range .IPAM.Config}}{{.Subnet}} {{end}}"
        return self._run("network", "inspect", "--format", template, *names).split()

    def create_volume(self, name: str, labels: Mapping[str, str]) -> None:
        self._run("volume", "create", *_labels(labels), name)

    def create_container(self, arguments: Sequence[str]) -> None:
        """``docker create`` with ``arguments`` (options, image, command)."""
        self._run("create", *arguments)

    def run_once(
        self, image: str, argv: Sequence[str], *, mounts: Sequence[str], user: str | None
    ) -> None:
        """Run ``argv`` to completion in a throw-away container of ``image`` with
        ``mounts`` (``--mount`` values). (``--volumes-from`` a container with a tmpfs is
        refused by the 20.10 engine, which its client reports as a missing image.)"""
        as_user = [f"--user={user}"] if user else []
        self._run("run", "--rm", *(f"--mount={m}" for m in mounts), *as_user, image, *argv)

    def connect(self, network: str, container: str, address: str, aliases: Sequence[str]) -> None:
        aliased = (f"--alias={a}" for a in aliases)
        self._run("network", "connect", f"--ip={address}", *aliased, network, container)

    def disconnect(self, network: str, container: str) -> None:
        self._run("network", "disconnect", "--force", network, container)

    def endpoints(self, network: str) -> list[str]:
        """Names of the endpoints the engine still holds on ``network`` (a removed
        container's endpoint can linger there on some engines); none when it is gone."""
        found = self._run("network", "inspect", "--format", "{{json .Containers}}", network,
                          check=False).strip()  # fmt: skip
        try:
            held = json.loads(found) if found else {}
        except json.JSONDecodeError:
            return []
        return [str(e.get("Name", key)) for key, e in (held or {}).items()]

    def start(self, *containers: str) -> None:
        if containers:
            self._run("start", *containers)

    def stop(self, *containers: str, grace_seconds: int = 10) -> None:
        """Stop the containers together (the engine stops them in parallel); with
        ``grace_seconds=0`` each is killed at once, as a power cut would."""
        if containers:
            self._run("stop", f"--time={grace_seconds}", *containers)

    def pause(self, *containers: str) -> None:
        """Freeze every process of the containers (cgroup freezer): they hold their
        connections and answer nothing, as a hung machine does."""
        if containers:
            self._run("pause", *containers)

    def unpause(self, *containers: str) -> None:
        if containers:
            self._run("unpause", *containers)

    def crash(self, container: str) -> None:
        """Kill the container's main process with SIGKILL from this host, as a crash would:
        the engine sees it exit and applies the container's restart policy, as a kubelet
        restarts a crashed container. (``docker kill`` counts as an operator's stop, after
        which the policy restarts nothing.) Needs the engine's processes visible from this
        host, as with a local engine run as root."""
        try:
            pid = int(self.inspect(container)["State"]["Pid"])  # type: ignore[index]
        except (KeyError, TypeError, ValueError) as exc:
            raise EngineError(f"{container}: the engine reports no process") from exc
        if pid <= 0:
            raise EngineError(f"{container} is not running")
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError as exc:
            raise EngineError(
                f"{container}: could not kill its process {pid} from this host ({exc}); "
                "a crash needs the engine on this host and the right to signal its processes"
            ) from exc

    def status(self, container: str) -> str:
        """``running``, ``paused``, ``exited``, ... or ``missing``."""
        try:
            return str(self.inspect(container)["State"]["Status"])  # type: ignore[index]
        except EngineError:
            return "missing"

    def listed(self, what: str, label: str) -> list[str]:
        """Names of every ``container``, ``network`` or ``volume`` carrying ``label``
        (``key=value``), running or not."""
        args = {
            "container": ("ps", "--all", "--filter", f"label={label}", "--format", "{{.Names}}"),
            "network": ("network", "ls", "--filter", f"label={label}", "--format", "{{.Name}}"),
            "volume": ("volume", "ls", "--filter", f"label={label}", "--format", "{{.Name}}"),
        }[what]
        return [line for line in self._run(*args).splitlines() if line.strip()]

    def remove(self, what: str, names: Sequence[str]) -> None:
        """Remove ``container``s (forced), ``network``s or ``volume``s; absent ones are fine."""
        if not names:
            return
        verb = {"container": ("rm", "--force", "--volumes"), "network": ("network", "rm"),
                "volume": ("volume", "rm", "--force")}[what]  # fmt: skip
        self._run(*verb, *names)

    def inspect(self, container: str) -> dict[str, object]:
        """``docker inspect`` of one container (its state and networks)."""
        found = json.loads(self._run("inspect", "--type", "container", container))
        return dict(found[0])

    def exec(self, container: str, argv: Sequence[str], timeout: float) -> int:
        """Run ``argv`` in the container; its exit status (a timeout counts as 124)."""
        try:
            done = subprocess.run(
                [self._docker, "exec", container, *argv],
                capture_output=True, timeout=timeout, check=False,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            return 124
        return done.returncode

    def logs(self, container: str, lines: int = 20) -> str:
        """The container's last ``lines`` of output (stdout and stderr)."""
        try:
            done = subprocess.run(
                [self._docker, "logs", "--tail", str(lines), container],
                capture_output=True, text=True, timeout=30, check=False,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            return ""
        return (done.stdout + done.stderr).strip()


def _labels(labels: Mapping[str, str]) -> list[str]:
    return [f"--label={key}={value}" for key, value in labels.items()]
