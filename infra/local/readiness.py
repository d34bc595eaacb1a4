"""Wait until started processes answer their readiness URL, with progress and clear errors."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import httpx

from infra.local.state import PlatformError, ProcessRecord
from infra.local.supervisor import Supervisor

POLL_SECONDS = 0.2


def log_tail(supervisor: Supervisor, name: str, lines: int = 5) -> str:
    """The last ``lines`` lines of a process log, joined for an error message."""
    try:
        text = supervisor.log_path(name).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return " | ".join(text.strip().splitlines()[-lines:]) or "(empty log)"


def wait_ready(
    supervisor: Supervisor,
    records: Sequence[ProcessRecord],
    timeout: float,
    progress: Callable[[str, int, int], None],
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Poll every record's ``ready_url`` until all answer 200.

    Raises :class:`PlatformError` naming the process and its log when one exits, or naming
    the laggards when ``timeout`` passes.
    """
    pending = {r.name: r for r in records if r.ready_url}
    total = len(pending)
    deadline = clock() + timeout
    with httpx.Client(timeout=0.5) as client:
        while pending:
            alive = supervisor.pids()
            for name, record in list(pending.items()):
                if name not in alive:
                    raise PlatformError(
                        f"{name} exited while starting; log {supervisor.log_path(name)}: "
                        f"{log_tail(supervisor, name)}"
                    )
                if _answers(client, record.ready_url or ""):
                    del pending[name]
            progress("waiting for processes to be ready", total - len(pending), total)
            if pending and clock() > deadline:
                names = ", ".join(sorted(pending)[:6])
                raise PlatformError(
                    f"not ready after {timeout:g} s: {names}"
                    f"{' …' if len(pending) > 6 else ''}; logs under {supervisor.log_dir}"
                )
            if pending:
                sleep(POLL_SECONDS)


def _answers(client: httpx.Client, url: str) -> bool:
    try:
        return client.get(url).status_code == 200
    except httpx.HTTPError:
        return False
