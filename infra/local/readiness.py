"""Wait until started processes answer their readiness URL, with progress and clear errors."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import httpx

from failover.log_format import readable
from failover.tls import client_verify
from infra.local.state import PlatformError, ProcessRecord
from infra.local.supervisor import Supervisor

POLL_SECONDS = 0.2


def quiet(_message: str, _done: int, _total: int) -> None:
    """A progress sink that shows nothing (for waits inside a command with its own output)."""
    return None


def log_tail(supervisor: Supervisor, name: str, lines: int = 5) -> str:
    """The last ``lines`` lines of a process log, joined for an error message (JSON records
    as text: failover/log_format.py)."""
    try:
        text = supervisor.log_path(name).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    tail = [readable(line) for line in text.strip().splitlines()[-lines:]]
    return " | ".join(tail) or "(empty log)"


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
    urls = {r.name: r.ready_url for r in records if r.ready_url}

    def one_round(client: httpx.Client, pending: set[str]) -> set[str]:
        alive = supervisor.pids()
        for name in sorted(pending):
            if name not in alive:
                raise PlatformError(
                    f"{name} exited while starting; log {supervisor.log_path(name)}: "
                    f"{log_tail(supervisor, name)}"
                )
        return {name for name in pending if _answers(client, urls[name])}

    def timed_out(pending: list[str]) -> str:
        return (
            f"not ready after {timeout:g} s: {', '.join(pending[:6])}"
            f"{' …' if len(pending) > 6 else ''}; logs under {supervisor.log_dir}"
        )

    _poll_rounds("waiting for processes to be ready", set(urls), one_round, timeout,
                 timed_out, progress, clock, sleep)  # fmt: skip
    # A process that died after its URL answered was not what answered it: another
    # listener holds its port (CI: the router lost its port to a unit, whose /readyz
    # then passed for the router's).
    gone = sorted(set(urls) - set(supervisor.pids()))
    if gone:
        name = gone[0]
        raise PlatformError(
            f"{', '.join(gone)} exited after {urls[name]} answered ready (is another process "
            f"on that port?); log {supervisor.log_path(name)}: {log_tail(supervisor, name)}"
        )


def _poll_rounds(
    what: str,
    names: set[str],
    one_round: Callable[[httpx.Client, set[str]], set[str]],
    timeout: float,
    timed_out: Callable[[list[str]], str],
    progress: Callable[[str, int, int], None],
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> None:
    """Run ``one_round`` (which returns the names now done) every :data:`POLL_SECONDS`
    until no name is pending, showing progress; past ``timeout`` raise
    :class:`PlatformError` with ``timed_out(sorted pending names)``."""
    pending = set(names)
    deadline = clock() + timeout
    with httpx.Client(timeout=0.5, verify=client_verify()) as client:
        while pending:
            pending -= one_round(client, pending)
            progress(what, len(names) - len(pending), len(names))
            if pending and clock() > deadline:
                raise PlatformError(timed_out(sorted(pending)))
            if pending:
                sleep(POLL_SECONDS)


def _answers(client: httpx.Client, url: str) -> bool:
    try:
        return client.get(url).status_code == 200
    except httpx.HTTPError:
        return False


def primary_replicating(unit_info: dict[str, object]) -> bool | None:
    """From a unit instance's ``/v1/unit``: ``None`` if it is not the primary, else
    whether every standby link of the primary is up (the sync one included)."""
    if unit_info.get("role") != "primary":
        return None
    standbys = unit_info.get("standbys")
    if not isinstance(standbys, list) or not standbys:
        return False
    return all(isinstance(s, dict) and s.get("healthy") is True for s in standbys)


def wait_replicating(
    records: Sequence[ProcessRecord],
    timeout: float,
    progress: Callable[[str, int, int], None],
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Wait until every unit has a primary whose standby links are all up.

    Processes answering ``/readyz`` is not yet a serving platform: a primary's links to
    its standbys connect a moment later, and until then writes answer 503. ``up`` waits
    for this too, so a drill's steady state is not judged on a half-started platform.
    """
    by_unit: dict[str, list[str]] = {}
    for record in records:
        if record.kind == "unit" and record.unit and record.ready_url:
            by_unit.setdefault(record.unit, []).append(record.ready_url.removesuffix("/readyz"))

    def one_round(client: httpx.Client, pending: set[str]) -> set[str]:
        return {u for u in pending if any(_replicating(client, url) for url in by_unit[u])}

    def timed_out(pending: list[str]) -> str:
        return (
            f"no primary with connected standbys after {timeout:g} s for: "
            f"{', '.join(pending)}; see their logs and `watertight status`"
        )

    _poll_rounds("waiting for primaries to reach their standbys", set(by_unit), one_round,
                 timeout, timed_out, progress, clock, sleep)  # fmt: skip


def _replicating(client: httpx.Client, base_url: str) -> bool:
    try:
        answer = client.get(f"{base_url}/v1/unit")
        return answer.status_code == 200 and primary_replicating(answer.json()) is True
    except (httpx.HTTPError, ValueError):
        return False
