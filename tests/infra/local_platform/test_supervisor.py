"""The supervisor starts detached processes and leaves none behind on stop."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from infra.local.supervisor import MARKER, ProcessSpec, Supervisor

SLEEPER = [sys.executable, "-c", "import time; time.sleep(120)"]


def _wait_gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        if not Path(f"/proc/{pid}").exists():
            return True
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[-1].split()[0] == "Z":
            return True
        time.sleep(0.05)
    return False


def environ_of(pid: int) -> list[bytes]:
    """The process's environment. Read while the kernel is still setting the new program
    up, ``/proc/PID/environ`` is empty (seen once in CI on a loaded machine): read again."""
    deadline = time.monotonic() + 5.0
    while True:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
        if raw or time.monotonic() > deadline:
            return raw.split(b"\0")
        time.sleep(0.05)


@pytest.fixture
def supervisor(tmp_path: Path):  # type: ignore[no-untyped-def]
    sup = Supervisor(tmp_path / "state")
    yield sup
    sup.stop_all(grace=1.0)


def test_started_process_has_pid_file_log_and_marker(supervisor: Supervisor) -> None:
    pid = supervisor.start(ProcessSpec("sleeper", SLEEPER))
    assert supervisor.pids() == {"sleeper": pid}
    assert f"{MARKER}={supervisor.state_dir}".encode() in environ_of(pid)
    assert supervisor.log_path("sleeper").exists()


def test_stop_all_kills_a_hung_process(supervisor: Supervisor) -> None:
    pid = supervisor.start(ProcessSpec("hung", SLEEPER))
    supervisor.signal("hung", signal.SIGSTOP)
    stopped = supervisor.stop_all(grace=1.0)
    assert pid in stopped
    assert _wait_gone(pid)
    assert supervisor.pids() == {}


def test_stop_all_finds_processes_that_lost_their_pid_file(supervisor: Supervisor) -> None:
    env = {**os.environ, MARKER: str(supervisor.state_dir)}
    orphan = subprocess.Popen(SLEEPER, env=env, start_new_session=True)
    try:
        assert orphan.pid in supervisor.marked_pids()
        supervisor.stop_all(grace=1.0)
        assert orphan.wait(timeout=10) != 0
    finally:
        orphan.kill()


def test_processes_of_another_platform_are_left_alone(tmp_path: Path) -> None:
    mine, other = Supervisor(tmp_path / "a"), Supervisor(tmp_path / "b")
    theirs = other.start(ProcessSpec("sleeper", SLEEPER))
    try:
        mine.stop_all(grace=0.5)
        assert other.pids() == {"sleeper": theirs}
    finally:
        other.stop_all(grace=0.5)
    assert _wait_gone(theirs)


def test_start_of_missing_binary_names_the_process(supervisor: Supervisor) -> None:
    with pytest.raises(Exception, match="cannot start ghost"):
        supervisor.start(ProcessSpec("ghost", ["/nonexistent/binary"]))


def test_a_child_started_here_is_alive_even_before_its_environ_shows_the_marker(
    supervisor: Supervisor,
) -> None:
    # `env -i` re-executes with an empty environment: the same state /proc shows for a
    # child between fork and exec, when a readiness scan used to call it "exited".
    pid = supervisor.start(ProcessSpec("bare", ["env", "-i", *SLEEPER]))
    deadline = time.monotonic() + 10
    while MARKER.encode() in Path(f"/proc/{pid}/environ").read_bytes():
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert supervisor.pids() == {"bare": pid}
    supervisor.stop("bare", grace=1.0)
    assert _wait_gone(pid)


def test_a_hung_process_is_killed_without_running_again(
    supervisor: Supervisor, tmp_path: Path
) -> None:
    woke = tmp_path / "woke"
    script = (
        "import pathlib, signal, sys, time\n"
        f"signal.signal(signal.SIGCONT, lambda *_: pathlib.Path({str(woke)!r}).touch())\n"
        "signal.signal(signal.SIGTERM, lambda *_: None)\n"  # shuts down slowly, like etcd
        "print('ready', flush=True)\n"
        "time.sleep(120)\n"
    )
    supervisor.start(ProcessSpec("hung", [sys.executable, "-c", script]))
    deadline = time.monotonic() + 10
    while b"ready" not in supervisor.log_path("hung").read_bytes():
        assert time.monotonic() < deadline, "the child never started"
        time.sleep(0.05)
    assert not supervisor.hung("hung")
    supervisor.signal("hung", signal.SIGSTOP)
    deadline = time.monotonic() + 5
    while not supervisor.hung("hung"):
        assert time.monotonic() < deadline, "SIGSTOP did not take"
        time.sleep(0.01)
    supervisor.kill_hung("hung")
    assert supervisor.pids() == {}
    time.sleep(0.2)
    assert not woke.exists()  # stop() would have sent SIGCONT first and let it run


def test_the_processes_named_last_stop_after_the_others_one_at_a_time(
    supervisor: Supervisor, tmp_path: Path
) -> None:
    # Each process writes its name when SIGTERM reaches it, then takes 0.3 s to exit: a
    # process named last that was signalled before the one ahead of it had exited would
    # write its name before that one's "gone".
    order = tmp_path / "order"

    def spec(name: str) -> ProcessSpec:
        script = (
            "import signal, sys, time\n"
            "def bye(*_):\n"
            f"    open({str(order)!r}, 'a').write('{name} ')\n"
            "    time.sleep(0.3)\n"
            f"    open({str(order)!r}, 'a').write('{name}-gone ')\n"
            "    sys.exit(0)\n"
            "signal.signal(signal.SIGTERM, bye)\n"
            f"open({str(tmp_path / name)!r} + '.ready', 'w').close()\n"
            "time.sleep(120)\n"
        )
        return ProcessSpec(name, [sys.executable, "-c", script])

    pids = [supervisor.start(spec(name)) for name in ("first", "member-b", "member-a")]
    deadline = time.monotonic() + 30
    while not all(
        (tmp_path / f"{name}.ready").exists() for name in ("first", "member-b", "member-a")
    ):
        assert time.monotonic() < deadline, "a process never installed its SIGTERM handler"
        time.sleep(0.05)
    stopped = supervisor.stop_all(grace=5.0, last=["member-b", "member-a"])
    assert sorted(stopped) == sorted(pids)
    assert order.read_text().split() == [
        "first", "first-gone", "member-b", "member-b-gone", "member-a", "member-a-gone",
    ]  # fmt: skip
    assert supervisor.pids() == {}
