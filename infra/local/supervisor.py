"""Background processes of the local platform: start detached, find, signal, stop.

Every process we start gets ``WATERTIGHT_PLATFORM_ID=<absolute state dir>`` in its
environment (and no ``WATERTIGHT_*`` variable of ours: only its spec's), a pid file under
``<state>/pids/`` and a log under ``<state>/logs/``. ``down`` stops what the pid files name
and then scans ``/proc`` for any process carrying the marker, so nothing is left behind
even after a crashed ``up`` that never wrote its pid files.

A ``python -m MODULE`` spec whose module the supervisor was told to preload is forked
from the launcher (infra/local/launcher_main.py), which has imported it already; the
launcher itself is one more process of the platform, started on first need.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from infra.local import launcher

MARKER = "WATERTIGHT_PLATFORM_ID"


def inherited_environment() -> dict[str, str]:
    """Our environment without any ``WATERTIGHT_*`` variable: a child's settings are exactly
    its spec's. The programs refuse a ``WATERTIGHT_*`` name they do not read, and the
    caller's (the test suite's ``WATERTIGHT_RUN_SLOW``, a shell's ``WATERTIGHT_STATE_DIR``)
    would otherwise reach every child and stop it; a restart from the record would not
    see them either."""
    return {k: v for k, v in os.environ.items() if not k.upper().startswith("WATERTIGHT_")}


class SupervisorError(RuntimeError):
    """A process could not be started or stopped; the message names it and its log."""


@dataclass(frozen=True)
class ProcessSpec:
    """What to run. ``site`` is None for processes outside every site (edge, proxies)."""

    name: str
    argv: Sequence[str]
    env: Mapping[str, str] = field(default_factory=dict)
    site: str | None = None
    ready_url: str | None = None


class Supervisor:
    """Starts and stops the platform's processes; state lives in files, not in memory."""

    def __init__(
        self,
        state_dir: Path,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        preload: Sequence[str] = (),
    ) -> None:
        """``preload``: modules whose ``python -m`` processes are forked from the launcher."""
        self.state_dir = state_dir.resolve()
        self._preload = frozenset(preload)
        self.pid_dir = self.state_dir / "pids"
        self.log_dir = self.state_dir / "logs"
        self._sleep = sleep
        self._clock = clock
        # Children started by this object; only these are reaped here (never waitpid(-1),
        # which would steal exit statuses from other code's subprocess.Popen objects).
        self._children: dict[int, subprocess.Popen[bytes]] = {}

    def log_path(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def start(self, spec: ProcessSpec) -> int:
        """Start ``spec`` detached (own session, survives this CLI); return its pid."""
        self.pid_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        env = {**inherited_environment(), **spec.env, MARKER: str(self.state_dir)}
        if launcher.is_preloaded(spec.argv, self._preload):
            pid = self._fork(spec, env)
        else:
            pid = self._spawn(spec, env)
        (self.pid_dir / f"{spec.name}.pid").write_text(f"{pid}\n")
        return pid

    def start_launcher(self) -> None:
        """Start the launcher now, unless it runs or nothing is preloaded, so that its
        imports overlap whatever the caller does before its first preloaded start (which
        would otherwise start it, then wait for its imports)."""
        if self._preload and not self.alive(launcher.PROCESS_NAME):
            argv = launcher.launcher_argv(self.state_dir, self._preload)
            self.start(ProcessSpec(launcher.PROCESS_NAME, argv))

    def _fork(self, spec: ProcessSpec, env: Mapping[str, str]) -> int:
        self.start_launcher()
        try:
            return launcher.fork(
                spec.name, self.state_dir, spec.argv, env, self.log_path(spec.name),
                alive=lambda: self.alive(launcher.PROCESS_NAME),
                clock=self._clock, sleep=self._sleep,
            )  # fmt: skip
        except launcher.LauncherError as exc:
            raise SupervisorError(
                f"cannot start {spec.name}: {exc}; launcher log "
                f"{self.log_path(launcher.PROCESS_NAME)}"
            ) from exc

    def _spawn(self, spec: ProcessSpec, env: Mapping[str, str]) -> int:
        log = self.log_path(spec.name).open("ab")
        try:
            process = subprocess.Popen(
                list(spec.argv),
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                cwd=self.state_dir,
            )
        except OSError as exc:
            raise SupervisorError(f"cannot start {spec.name} ({spec.argv[0]}): {exc}") from exc
        finally:
            log.close()
        self._children[process.pid] = process
        return process.pid

    def pids(self) -> dict[str, int]:
        """Processes named by pid files that are still alive (and ours)."""
        if not self.pid_dir.is_dir():
            return {}
        named = ((f.stem, self.pid_of(f.stem)) for f in sorted(self.pid_dir.glob("*.pid")))
        return {name: pid for name, pid in named if pid is not None}

    def pid_of(self, name: str) -> int | None:
        """The pid its pid file names, if that process is still alive (and ours)."""
        try:
            pid = int((self.pid_dir / f"{name}.pid").read_text().strip())
        except (ValueError, OSError):
            return None
        return pid if self._is_ours(pid) else None

    def alive(self, name: str) -> bool:
        return self.pid_of(name) is not None

    def hung(self, name: str) -> bool:
        """True if the named process is stopped by a signal (SIGSTOP: ``site-hang``)."""
        pid = self.pid_of(name)
        return pid is not None and _process_state(pid) in ("T", "t")

    def kill_hung(self, name: str, timeout: float = 5.0) -> None:
        """SIGKILL a stopped process without resuming it first (:meth:`stop` sends SIGCONT,
        which would let it run for a moment), wait until it is gone, forget its pid file."""
        self.signal(name, signal.SIGKILL)
        deadline = self._clock() + timeout
        while self.alive(name) and self._clock() < deadline:
            self._sleep(0.05)
        self.stop(name, grace=0.0)

    def signal(self, name: str, sig: signal.Signals) -> bool:
        """Send ``sig`` to the named process; False if it is not running."""
        pid = self.pid_of(name)
        if pid is None:
            return False
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        return True

    def stop(self, name: str, grace: float = 5.0) -> None:
        """SIGCONT (a hung process cannot die otherwise), SIGTERM, then SIGKILL after grace."""
        pid = self.pid_of(name)
        if pid is not None:
            self._terminate([pid], grace)
        (self.pid_dir / f"{name}.pid").unlink(missing_ok=True)

    def stop_all(self, grace: float = 5.0, last: Sequence[str] = ()) -> list[int]:
        """Stop every process of this platform, pid files or not; return the pids stopped.

        The processes named in ``last`` are stopped after all the others, one at a time
        in the order given, each gone (or killed after ``grace``) before the next."""
        named = self.pids()
        held = {named[name] for name in last if name in named}
        pids = sorted((set(named.values()) | set(self.marked_pids())) - held)
        self._terminate(pids, grace)
        for name in last:
            if name in named:
                self._terminate([named[name]], grace)
        if self.pid_dir.is_dir():
            for pid_file in self.pid_dir.glob("*.pid"):
                pid_file.unlink(missing_ok=True)
        return sorted([*pids, *held])

    def marked_pids(self) -> list[int]:
        """Every live process whose environment carries this platform's marker."""
        return [pid for pid in _all_pids() if self._is_ours(pid)]

    def _is_ours(self, pid: int) -> bool:
        if pid == os.getpid():
            return False
        child = self._children.get(pid)
        if child is not None:
            # Between fork and exec a child's /proc environ is still ours, without the
            # marker; a scan in that window called a starting etcd "exited" (seen in CI).
            return child.poll() is None
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            return False
        if _process_state(pid) in (None, "Z"):
            return False  # gone, or a zombie: dead, its parent will reap it
        return f"{MARKER}={self.state_dir}".encode() in environ.split(b"\0")

    def _terminate(self, pids: Sequence[int], grace: float) -> None:
        for sig in (signal.SIGCONT, signal.SIGTERM):
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, sig)
        deadline = self._clock() + grace
        while self._clock() < deadline and any(self._is_ours(p) for p in pids):
            self._sleep(0.05)
        for pid in pids:
            if self._is_ours(pid):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
        for pid in pids:
            child = self._children.pop(pid, None)
            if child is not None:
                child.poll()  # reap our own child so it does not linger as a zombie


def _process_state(pid: int) -> str | None:
    """The state letter in ``/proc/<pid>/stat`` (R, S, T stopped, Z zombie...), None if
    there is no such process. The command name may hold ")", hence the last one."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[-1].split()[0]


def _all_pids() -> Iterator[int]:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            yield int(entry.name)
