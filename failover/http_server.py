"""How every watertight HTTP service runs under uvicorn: its HTTP/1.1 parser and event
loop named, rather than left to whatever happens to be installed.

httptools, not h11: with the write and shipment lanes in place, h11's pure-Python parsing
and framing were ~40 % of the router under load, and the whole platform served 282
acknowledged writes/s with h11 against 456 with httptools, back to back
(docs/benchmarks.md, capacity). The standard asyncio loop, not uvloop: uvloop gave
fewer writes a second in two A/B runs (one of them with 8 failed writes), and our link
threads wake the loop with ``call_soon_threadsafe``, which is what the standard loop is
tested with here.

FastAPI's native OpenTelemetry is switched off in every app: nothing here exports
traces or OTel metrics (metrics are Prometheus text), and left on, FastAPI asks the
global OTel providers whether it is enabled on every request: ~11 % of the router's
py-spy samples at ~340 acknowledged writes/s from 64 closed-loop clients
(docs/benchmarks.md, "Sixteenth session").

uvicorn's own server wakes ten times a second to see whether it should stop and once a
second to refresh its ``Date`` header: ~2 ms of CPU a second per idle process here, and
a platform runs some thirty of them. :class:`QuietServer` wakes once a second for the
header and at once when told to stop (docs/benchmarks.md, "Eighteenth session").
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from types import FrameType
from typing import Any, Final

import uvicorn
from uvicorn.config import Config

UVICORN_PROTOCOLS: Final[dict[str, Any]] = {"http": "httptools", "loop": "asyncio"}
"""Keyword arguments for ``uvicorn.run``/``uvicorn.Config``."""

FASTAPI_APP: Final[dict[str, Any]] = {
    "telemetry": {"tracing": False, "metrics": False, "logs": False}
}
"""Keyword arguments for every ``FastAPI(...)`` of ours."""


#: How often a :class:`QuietServer` refreshes its ``Date`` header (uvicorn: each second).
DATE_REFRESH_SECONDS: Final = 1.0
#: uvicorn's exit status when the server never started (its ``STARTUP_FAILURE``).
STARTUP_FAILURE: Final = 3


class QuietServer(uvicorn.Server):
    """A uvicorn server whose main loop sleeps until told to stop, waking only to
    refresh the ``Date`` header every ``date_refresh_seconds``. Stopping works as
    uvicorn's: SIGINT/SIGTERM (or :meth:`handle_exit`) ends it, gracefully."""

    def __init__(self, config: Config, date_refresh_seconds: float = DATE_REFRESH_SECONDS) -> None:
        super().__init__(config)
        self._refresh = date_refresh_seconds
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop = asyncio.Event()

    async def main_loop(self) -> None:
        self._loop = asyncio.get_running_loop()
        if self.should_exit:  # told to stop before the loop ran
            self._stop.set()
        # Tick 0 is the tick on which uvicorn refreshes the header.
        while not await self.on_tick(0):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self._refresh)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)


def quiet_server(app: Any, **options: Any) -> QuietServer:
    """A :class:`QuietServer` for ``app`` with our protocols (:data:`UVICORN_PROTOCOLS`)
    and ``options`` (``uvicorn.Config`` keywords)."""
    return QuietServer(Config(app, **UVICORN_PROTOCOLS, **options))


def serve(app: Any, **options: Any) -> None:
    """``uvicorn.run(app, **options)`` on a :func:`quiet_server`; exits with status 3, as
    uvicorn does, when the server could not start (its port taken, say)."""
    server = quiet_server(app, **options)
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    if not server.started:
        sys.exit(STARTUP_FAILURE)
