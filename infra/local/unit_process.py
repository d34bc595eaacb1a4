"""Start, wait for and stop unit-service processes (``python -m app``) on loopback.

Used by the integration tests, the benchmark and ``watertight demo``. A process writes
its output to a log file; :meth:`UnitProcess.wait_ready` polls ``/readyz``;
:meth:`UnitProcess.stop` sends SIGTERM, then SIGKILL after a grace period. The unit
service is started as a subprocess and configured only through ``WATERTIGHT_*``
environment variables (this package never imports ``app``).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO

import httpx

from failover.log_format import readable
from failover.tls import client_verify
from failover.topology import Topology

LOOPBACK = "127.0.0.1"
READY_TIMEOUT_SECONDS = 60.0  # an upper bound for a starved machine, not a target
STOP_GRACE_SECONDS = 5.0


class UnitProcessError(RuntimeError):
    """A unit process failed to start or become ready; the message ends with its log tail."""


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port the OS says is free right now (bind to port 0, read it back)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class UnitInstanceSpec:
    """Everything one ``python -m app`` process needs."""

    unit: str
    site: str
    port: int
    data_dir: Path
    token: str
    role: str = "standby"
    epoch: int = 1
    peers: Mapping[str, str] = field(default_factory=dict)
    database_url: str = ""
    topology: Path | None = None
    extra_env: Mapping[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def environment(self) -> dict[str, str]:
        """The process environment: ours, minus any inherited ``WATERTIGHT_*`` variable."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("WATERTIGHT_")}
        env.update(
            {
                "WATERTIGHT_UNIT": self.unit,
                "WATERTIGHT_SITE": self.site,
                "WATERTIGHT_HOST": LOOPBACK,
                "WATERTIGHT_PORT": str(self.port),
                "WATERTIGHT_DATA_DIR": str(self.data_dir),
                "WATERTIGHT_TOKEN": self.token,
                "WATERTIGHT_ROLE": self.role,
                "WATERTIGHT_EPOCH": str(self.epoch),
                "WATERTIGHT_PEERS": json.dumps(dict(self.peers)),
                "WATERTIGHT_DATABASE_URL": self.database_url,
                "PYTHONUNBUFFERED": "1",
            }
        )
        if self.topology is not None:
            env["WATERTIGHT_TOPOLOGY"] = str(self.topology)
        env.update(self.extra_env)
        return env


class UnitProcess:
    """One unit-service process. Not thread-safe; one owner."""

    def __init__(self, spec: UnitInstanceSpec, python: str = sys.executable) -> None:
        self.spec = spec
        self.python = python
        self.log_path = spec.data_dir / f"{spec.unit}-{spec.site}.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return self.spec.url

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Spawn the process (returns at once; see :meth:`wait_ready`)."""
        if self.running:
            raise UnitProcessError(f"{self.spec.site}: already running (pid {self.pid})")
        self.spec.data_dir.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            [self.python, "-m", "app"],
            env=self.spec.environment(),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=self.spec.data_dir,
        )

    def wait_ready(self, timeout: float = READY_TIMEOUT_SECONDS) -> None:
        """Poll ``/readyz`` until 200; raise :class:`UnitProcessError` on exit or timeout."""
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=1.0, verify=client_verify()) as client:
            while True:
                if not self.running:
                    raise UnitProcessError(f"{self.spec.site}: exited early\n{self.log_tail()}")
                try:
                    if client.get(f"{self.url}/readyz").status_code == 200:
                        return
                except httpx.HTTPError:
                    pass  # not listening yet
                if time.monotonic() > deadline:
                    raise UnitProcessError(
                        f"{self.spec.site}: not ready after {timeout} s\n{self.log_tail()}"
                    )
                time.sleep(0.05)

    def stop(self, grace: float = STOP_GRACE_SECONDS) -> int | None:
        """SIGTERM, then SIGKILL after ``grace`` seconds. Returns the exit code. Idempotent."""
        process = self._process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(grace)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._close_log()
        return process.returncode if process else None

    def kill(self) -> None:
        """SIGKILL now (a crash, for fault injection)."""
        process = self._process
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()
        self._close_log()

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(readable(line) for line in text.splitlines()[-lines:])

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


def plan_unit_trio(
    topology: Topology,
    unit: str,
    base_dir: Path,
    *,
    token: str,
    database_urls: Mapping[str, str] | None = None,
    epoch: int = 1,
    topology_file: Path | None = None,
) -> dict[str, UnitInstanceSpec]:
    """Specs for a unit's primary and its two standbys as the topology places them.

    Ports are chosen free now; every instance knows the others as peers. Pass the file
    ``topology`` was loaded from as ``topology_file`` (else the processes use the
    built-in default topology).
    """
    placement = topology.placement(unit)
    ports = {site: free_port() for site in placement.sites}
    urls = {site: f"http://{LOOPBACK}:{port}" for site, port in ports.items()}
    specs: dict[str, UnitInstanceSpec] = {}
    for site in placement.sites:
        specs[site] = UnitInstanceSpec(
            unit=unit,
            site=site,
            port=ports[site],
            data_dir=base_dir / site,
            token=token,
            role="primary" if site == placement.primary else "standby",
            epoch=epoch,
            peers={s: u for s, u in urls.items() if s != site},
            database_url=(database_urls or {}).get(site, ""),
            topology=topology_file,
        )
    return specs


@contextmanager
def running_units(
    specs: Mapping[str, UnitInstanceSpec], ready_timeout: float = READY_TIMEOUT_SECONDS
) -> Iterator[dict[str, UnitProcess]]:
    """Start every spec at once, wait until all are ready, and always stop them all."""
    processes = {site: UnitProcess(spec) for site, spec in specs.items()}
    try:
        for process in processes.values():
            process.start()
        deadline = time.monotonic() + ready_timeout
        for process in processes.values():
            process.wait_ready(max(1.0, deadline - time.monotonic()))
        yield processes
    finally:
        for process in processes.values():
            process.stop()


def with_role(spec: UnitInstanceSpec, role: str, epoch: int) -> UnitInstanceSpec:
    """The same instance restarted with another configured role and epoch."""
    return replace(spec, role=role, epoch=epoch)
