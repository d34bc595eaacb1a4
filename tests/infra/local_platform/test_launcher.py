"""Processes forked from the launcher are the processes their specs describe.

The launcher (infra/local/launcher_main.py) preloads a module once and forks each
``python -m MODULE`` process from it. A forked process must look, to itself and to the
platform, exactly like one started with ``subprocess``: its spec's environment and
nothing of the launcher's, its arguments, its log, its own session, its pid file, gone
at once when it exits, and stopped by ``down``.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import time
from pathlib import Path

import pytest

from infra.local import launcher
from infra.local.supervisor import (
    MARKER,
    ProcessSpec,
    Supervisor,
    SupervisorError,
    inherited_environment,
)

# Written into the state directory, which is the launcher's working directory and so on
# its sys.path (``python -m``): a program that reports what it was started with.
PROBE = """
import json, os, sys, time

def main():
    print("probe says hello", flush=True)
    with open(sys.argv[1] + ".tmp", "w") as out:
        json.dump({"env": dict(os.environ), "pid": os.getpid(), "sid": os.getsid(0),
                   "cwd": os.getcwd(), "argv": sys.argv}, out)
    os.rename(sys.argv[1] + ".tmp", sys.argv[1])
    if sys.argv[2] == "exit":
        sys.exit(3)
    time.sleep(120)

if __name__ == "__main__":
    main()
"""


def _wait_for(predicate, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.fixture
def supervisor(tmp_path: Path):  # type: ignore[no-untyped-def]
    state = tmp_path / "state"
    state.mkdir()
    (state / "wtprobe.py").write_text(PROBE)
    sup = Supervisor(state, preload=("wtprobe",))
    yield sup
    sup.stop_all(grace=1.0)


def _probe(sup: Supervisor, name: str, mode: str, **env: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    report = sup.state_dir / f"{name}.json"
    argv = [sys.executable, "-m", "wtprobe", str(report), mode]
    pid = sup.start(ProcessSpec(name, argv, env))
    _wait_for(report.exists)
    return pid, json.loads(report.read_text())


def test_a_forked_process_has_exactly_its_specs_environment_arguments_and_session(
    supervisor: Supervisor, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid, seen = _probe(supervisor, "first", "sleep", WATERTIGHT_UNIT="u00")
    assert seen["env"] == {
        **inherited_environment(),
        "WATERTIGHT_UNIT": "u00",
        MARKER: str(supervisor.state_dir),
    }
    assert seen["pid"] == pid == seen["sid"]  # its own session, as start_new_session gives
    assert seen["cwd"] == str(supervisor.state_dir)
    assert seen["argv"][1:] == [str(supervisor.state_dir / "first.json"), "sleep"]
    assert supervisor.pids()["first"] == pid
    assert Path(f"/proc/{pid}/comm").read_text().strip() == "first"
    assert "probe says hello" in supervisor.log_path("first").read_text()
    # The caller's environment at the time of each start counts, not the launcher's.
    monkeypatch.setenv("LAUNCHER_TEST_ONLY", "yes")
    _, second = _probe(supervisor, "second", "sleep")
    assert second["env"]["LAUNCHER_TEST_ONLY"] == "yes"
    assert "WATERTIGHT_UNIT" not in second["env"]
    assert "LAUNCHER_TEST_ONLY" not in seen["env"]


def test_a_forked_process_that_exits_is_gone_at_once_not_a_zombie(
    supervisor: Supervisor,
) -> None:
    pid, _ = _probe(supervisor, "quitter", "exit")
    _wait_for(lambda: not Path(f"/proc/{pid}").exists())
    assert "quitter" not in supervisor.pids()


def test_stop_all_stops_forked_processes_and_the_launcher(supervisor: Supervisor) -> None:
    pid, _ = _probe(supervisor, "sleeper", "sleep")
    launcher_pid = supervisor.pids()[launcher.PROCESS_NAME]
    stopped = supervisor.stop_all(grace=2.0)
    assert {pid, launcher_pid} <= set(stopped)
    _wait_for(lambda: not supervisor.marked_pids())


def test_a_killed_launcher_is_started_again_for_the_next_process(
    supervisor: Supervisor,
) -> None:
    _probe(supervisor, "before", "sleep")
    first = supervisor.pids()[launcher.PROCESS_NAME]
    os.kill(first, signal.SIGKILL)
    _wait_for(lambda: launcher.PROCESS_NAME not in supervisor.pids())
    pid, _ = _probe(supervisor, "after", "sleep")
    assert supervisor.pids()[launcher.PROCESS_NAME] != first
    assert supervisor.pids()["after"] == pid


def test_a_module_that_is_not_preloaded_is_started_as_it_is(supervisor: Supervisor) -> None:
    pid = supervisor.start(
        ProcessSpec("plain", [sys.executable, "-c", "import time; time.sleep(60)"])
    )
    assert supervisor.pids() == {"plain": pid}  # no launcher was needed
    assert MARKER.encode() in Path(f"/proc/{pid}/environ").read_bytes()


def test_the_launcher_refuses_a_module_it_did_not_preload(supervisor: Supervisor) -> None:
    _probe(supervisor, "warm", "sleep")
    with pytest.raises(launcher.LauncherError, match="not preloaded"):
        launcher.fork(
            "stranger", supervisor.state_dir, [sys.executable, "-m", "http.server"], {},
            supervisor.log_path("stranger"), alive=lambda: True,
        )  # fmt: skip


def test_a_launcher_that_cannot_start_names_its_log(tmp_path: Path) -> None:
    sup = Supervisor(tmp_path / "state", preload=("no_such_module_here",))
    try:
        with pytest.raises(SupervisorError, match="launcher log"):
            sup.start(ProcessSpec("doomed", [sys.executable, "-m", "no_such_module_here"]))
    finally:
        sup.stop_all(grace=1.0)


def test_a_malformed_request_gets_a_reason_and_the_launcher_serves_on(
    supervisor: Supervisor,
) -> None:
    _probe(supervisor, "warm", "sleep")
    for bad, reason in ((b"not json\n", "Expecting value"), (b"[1, 2]\n", "JSON object"),
                        (b'{"env": {}}\n', "module")):  # fmt: skip
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
            connection.connect(launcher.address(supervisor.state_dir))
            connection.sendall(bad)
            answer = launcher.read_message(connection)
        assert reason in str(answer.get("error")), answer
    pid, _ = _probe(supervisor, "after", "sleep")
    assert supervisor.pids()["after"] == pid


def test_a_launcher_started_ahead_is_the_one_the_first_fork_uses_and_is_started_once(
    supervisor: Supervisor,
) -> None:
    supervisor.start_launcher()
    ahead = supervisor.pid_of(launcher.PROCESS_NAME)
    assert ahead is not None
    supervisor.start_launcher()
    assert supervisor.pid_of(launcher.PROCESS_NAME) == ahead
    _probe(supervisor, "first", "sleep")
    assert supervisor.pid_of(launcher.PROCESS_NAME) == ahead


def test_a_supervisor_that_preloads_nothing_starts_no_launcher(tmp_path: Path) -> None:
    plain = Supervisor(tmp_path / "plain")
    plain.start_launcher()
    assert plain.pids() == {}
