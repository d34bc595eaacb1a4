"""The launcher process: import the platform's Python programs once, then fork each of
their processes on request.

``python -m infra.local.launcher_main ADDRESS MODULE [MODULE ...]`` listens on the
abstract Unix socket ADDRESS (hex), imports every MODULE (for a package, its
``__main__``) and then answers one request per connection: a JSON line
``{"name", "module", "args", "env", "log", "cwd"}`` is answered with ``{"pid": N}`` once a child
runs ``python -m MODULE ARGS`` with exactly that environment, its output appended to
``log``, in its own session, from ``cwd``, named ``name`` in ``ps``; or with ``{"error": text}``.

Why (docs/design.md §7): a unit instance spends ~0.9 s of CPU importing its libraries
before it does anything, and ``up`` starts 24 of them on two cores. Forked from here, a
process starts with those imports done. It is still a process of its own, started from a
clean module state: only library imports are shared, never an object our programs built.

Only the user running the launcher may ask it (``SO_PEERCRED``), only for the modules it
was started with. It never starts a thread (forking a threaded process is unsafe) and
ignores ``SIGCHLD``, so the kernel reaps its children and a dead one is gone at once.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import importlib.util
import logging
import os
import runpy
import signal
import socket
import struct
import sys
import threading
import traceback
from typing import Any

from failover.log_format import LogContext, configure_logging
from infra.local.launcher import read_message, send_message

log = logging.getLogger(__name__)


def preload(module: str) -> None:
    """Import what ``python -m module`` would run, then forget the module itself so that
    each child runs it afresh as ``__main__`` (its libraries stay imported)."""
    spec = importlib.util.find_spec(module)
    if spec is None:
        raise SystemExit(f"launcher: no module {module!r}")
    target = f"{module}.__main__" if spec.submodule_search_locations is not None else module
    importlib.import_module(target)
    sys.modules.pop(target, None)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) < 2:
        print("usage: launcher_main ADDRESS_HEX MODULE [MODULE ...]", file=sys.stderr)
        return 2
    address, modules = bytes.fromhex(args[0]), frozenset(args[1:])
    # WARNING while importing: libraries announce their plug-ins at INFO as they load.
    configure_logging(LogContext("launcher"), logging.WARNING)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(address)  # before the imports: a client may connect and wait meanwhile
    listener.listen(64)
    for module in sorted(modules):
        preload(module)
    gc.collect()
    gc.freeze()  # keeps the preloaded objects' pages shared with the children
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    logging.getLogger().setLevel(logging.INFO)
    log.info("preloaded %s; forking their processes on request", ", ".join(sorted(modules)))
    while True:
        connection, _ = listener.accept()
        with connection:
            serve(connection, listener, modules)


def serve(connection: socket.socket, listener: socket.socket, modules: frozenset[str]) -> None:
    """Answer one request on ``connection`` (see the module docstring)."""
    try:
        _check_peer(connection)
        request = _read_request(connection)
        if request.get("module") not in modules:
            raise ValueError(f"module {request.get('module')!r} is not preloaded here")
        if threading.active_count() != 1:
            raise RuntimeError("the launcher has a thread; it will not fork")
        pid = os.fork()
    except (OSError, ValueError, RuntimeError) as exc:
        _reply(connection, {"error": str(exc)})
        return
    if pid == 0:
        run_child(request, (listener, connection))
    log.info("forked %s (python -m %s) as pid %d", request.get("name"), request["module"], pid)
    _reply(connection, {"pid": pid})


def run_child(request: dict[str, Any], inherited: tuple[socket.socket, ...]) -> None:
    """In the forked child: become the requested program; never returns."""
    code = 1
    try:
        for sock in inherited:
            sock.close()
        os.setsid()
        _name_process(str(request.get("name", request["module"])))
        _forget_the_launchers_settings()
        output = os.open(str(request["log"]), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(output, 1)
        os.dup2(output, 2)
        os.close(output)
        os.close(null)
        os.chdir(str(request["cwd"]))
        os.environ.clear()
        os.environ.update({str(k): str(v) for k, v in request["env"].items()})
        sys.argv = [str(request["module"]), *(str(a) for a in request.get("args", []))]
        runpy.run_module(str(request["module"]), run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as exc:
        code = _exit_code(exc)
    except BaseException:
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        os._exit(code)


def _forget_the_launchers_settings() -> None:
    """Undo what the launcher set for itself, so the child starts as ``python -m`` would:
    default SIGCHLD (its own subprocesses must be waitable) and no logging of ours (its
    program configures its own, naming itself, not the launcher)."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    logging.getLogger().handlers.clear()
    logging.captureWarnings(False)
    sys.excepthook = sys.__excepthook__
    threading.excepthook = threading.__excepthook__


def _name_process(name: str) -> None:
    """Show ``name`` (its first 15 bytes, the kernel's limit) in ``ps``/``top``'s command
    column instead of the launcher's: every child shares the launcher's command line."""
    with contextlib.suppress(OSError), open("/proc/self/comm", "w") as comm:
        comm.write(name[:15])


def _exit_code(exc: SystemExit) -> int:
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code
    print(exc.code, file=sys.stderr)
    return 1


def _check_peer(connection: socket.socket) -> None:
    raw = connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", raw)
    if uid != os.getuid():
        raise ValueError(f"uid {uid} may not ask this launcher")


def _read_request(connection: socket.socket) -> dict[str, Any]:
    connection.settimeout(10.0)
    request = read_message(connection)
    if not isinstance(request.get("env"), dict):
        raise ValueError("a request is a JSON object with an env object")
    for key in ("module", "log", "cwd"):
        if not isinstance(request.get(key), str):
            raise ValueError(f"a request names its {key} as a string")
    if not isinstance(request.get("args", []), list):
        raise ValueError("a request's args are a list")
    return request


def _reply(connection: socket.socket, answer: dict[str, Any]) -> None:
    # If the client gave up, a child forked for it runs on: `down` finds it by its marker.
    with contextlib.suppress(OSError):
        send_message(connection, answer)


if __name__ == "__main__":
    sys.exit(main())
