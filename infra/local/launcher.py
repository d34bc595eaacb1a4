"""Asking the launcher (infra/local/launcher_main.py) to fork a preloaded program.

The launcher listens on an abstract Unix socket named after the platform's state
directory, so two platforms on one machine never share one and no socket file is left
behind. This module only speaks to it; :class:`infra.local.supervisor.Supervisor`
decides when (a ``python -m MODULE`` spec whose module it was told to preload).
"""

from __future__ import annotations

import hashlib
import json
import socket
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

PROCESS_NAME = "launcher"
MODULE = "infra.local.launcher_main"
CONNECT_SECONDS = 10.0
MAX_MESSAGE_BYTES = 1 << 20
ANSWER_SECONDS = 60.0  # the first answer waits for the imports, slow on a loaded machine


class LauncherError(RuntimeError):
    """The launcher could not be reached or refused; the message says why."""


def address(state_dir: Path) -> bytes:
    """The abstract socket address of the launcher of the platform at ``state_dir``."""
    digest = hashlib.sha256(str(state_dir.resolve()).encode()).hexdigest()[:32]
    return b"\0watertight-launcher-" + digest.encode()


def launcher_argv(state_dir: Path, modules: Iterable[str]) -> list[str]:
    """The command that starts the launcher for ``modules``."""
    return [sys.executable, "-m", MODULE, address(state_dir).hex(), *sorted(modules)]


def is_preloaded(argv: Sequence[str], modules: frozenset[str]) -> bool:
    """Whether ``argv`` is ``<this python> -m MODULE ...`` with MODULE one of ``modules``
    (the launcher forks it); any other command is started as is."""
    return len(argv) >= 3 and argv[0] == sys.executable and argv[1] == "-m" and argv[2] in modules


def fork(
    name: str,
    state_dir: Path,
    argv: Sequence[str],
    env: Mapping[str, str],
    log: Path,
    alive: Callable[[], bool],
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Have the launcher start ``argv`` (``python -m MODULE ARGS``) as process ``name``
    with exactly ``env``, its output appended to ``log``, from ``state_dir``; return the
    new process's pid.

    ``alive`` says whether the launcher process still runs: while it does, a refused
    connection is retried for :data:`CONNECT_SECONDS` (it binds a moment after it starts).
    """
    request = {"name": name, "module": argv[2], "args": list(argv[3:]), "env": dict(env),
               "log": str(log), "cwd": str(state_dir)}  # fmt: skip
    connection = _connect(address(state_dir), alive, clock, sleep)
    with connection:
        connection.settimeout(ANSWER_SECONDS)
        try:
            send_message(connection, request)
            answer = read_message(connection)
        except (OSError, ValueError) as exc:
            raise LauncherError(f"no answer from the launcher: {exc}") from exc
    pid = answer.get("pid")
    if isinstance(pid, int):
        return pid
    raise LauncherError(f"the launcher refused: {answer.get('error', answer)}")


def _connect(
    where: bytes, alive: Callable[[], bool], clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> socket.socket:  # fmt: skip
    deadline = clock() + CONNECT_SECONDS
    while True:
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            connection.connect(where)
            return connection
        except OSError as exc:
            connection.close()
            if not alive():
                raise LauncherError("the launcher is not running") from exc
            if clock() > deadline:
                raise LauncherError(f"cannot reach the launcher: {exc}") from exc
        sleep(0.02)


def read_message(connection: socket.socket) -> dict[str, Any]:
    """One message of the launcher's wire format: a JSON object on one line, at most
    :data:`MAX_MESSAGE_BYTES`. Raises ``ValueError`` for anything else, ``OSError`` when
    the connection fails or times out."""
    data = b""
    while not data.endswith(b"\n"):
        chunk = connection.recv(65536)
        if not chunk:
            break
        data += chunk
        if len(data) > MAX_MESSAGE_BYTES:
            raise ValueError("message too large")
    message = json.loads(data)
    if not isinstance(message, dict):
        raise ValueError(f"not a JSON object: {data[:200]!r}")
    return message


def send_message(connection: socket.socket, message: Mapping[str, Any]) -> None:
    """Send ``message`` in the launcher's wire format (see :func:`read_message`)."""
    connection.sendall(json.dumps(message).encode() + b"\n")
