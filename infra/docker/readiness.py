"""Readiness of the docker platform's containers: each one's own readiness probe, run the
way a kubelet runs it (an HTTP GET from outside the container, or a command inside it);
a container without a probe is ready once it runs."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import httpx

from infra.docker.engine import DockerEngine, EngineError
from infra.docker.state import ContainerRecord, DockerPlatformError

Progress = Callable[[str, int, int], None]
POLL_SECONDS = 1.0


def is_ready(engine: DockerEngine, client: httpx.Client, record: ContainerRecord) -> bool:
    """Whether the container's readiness probe passes now (never raises)."""
    if record.ready_command:
        return engine.exec(record.name, record.ready_command, record.ready_timeout + 1) == 0
    if record.ready_url:
        try:
            answer = client.get(record.ready_url, timeout=record.ready_timeout + 1)
        except httpx.HTTPError:
            return False
        return 200 <= answer.status_code < 400
    try:
        return engine.inspect(record.name)["State"]["Running"] is True  # type: ignore[index]
    except EngineError:
        return False


def wait_ready(
    engine: DockerEngine,
    records: Sequence[ContainerRecord],
    within: float,
    progress: Progress | None = None,
) -> None:
    """Return once every container is ready; raise :class:`DockerPlatformError` naming the
    ones that are not after ``within`` seconds, with the first one's last log lines."""
    waiting = {r.name: r for r in records}
    deadline = time.monotonic() + within
    with httpx.Client() as client:
        while True:
            if progress:
                progress("waiting for readiness", len(records) - len(waiting), len(records))
            for name, record in list(waiting.items()):
                if is_ready(engine, client, record):
                    del waiting[name]
            if not waiting:
                return
            if time.monotonic() > deadline:
                first = sorted(waiting)[0]
                tail = engine.logs(first, 15).replace("\n", "\n    ")
                raise DockerPlatformError(
                    f"{len(waiting)} containers not ready after {within:.0f} s: "
                    f"{', '.join(sorted(waiting))}; the last lines of {first}:\n    {tail}"
                )
            time.sleep(POLL_SECONDS)
