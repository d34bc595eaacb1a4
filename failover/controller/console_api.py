"""The live console's routes on the controller's API (docs/monitoring.md, "The console").

- ``GET /console``: the page (one HTML file with its script and style inline, shipped as
  package data: nothing is fetched from another host, nothing is built at run time);
- ``GET /v1/console``: one console view (:mod:`failover.console.view`), JSON;
- ``GET /v1/console/stream``: Server-Sent Events, one ``view`` event a second.

All three are reads, open like ``/v1/status``; approving from the page posts to
``/v1/approvals/{id}`` with the token the person types, so the console adds no new way
to change anything. Any controller serves them and shows what *it* sees (the view names
the leader). The stream is left out of the OpenAPI document: an endless response cannot
be described there (nor fuzzed); ``/v1/console`` is the same view, documented.

Sparkline history is sampled when a view is built and the controller has run a cycle
since the last sample, so it covers the time someone has watched this controller (up to
two minutes): the controller's own cycle stays untouched by the console.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator
from importlib import resources
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, StreamingResponse

from failover.console.view import TIMELINE_LENGTH, History, build_view, largest_lag
from failover.controller.runtime import Runtime
from failover.trends.signals import volume

STREAM_INTERVAL_SECONDS = 1.0
STREAM_SECONDS = 60.0
"""One stream's length; the page's EventSource reconnects at once (``retry``). Bounded so
that no connection outlives a controller's shutdown by more than this."""


class ConsoleFeed:
    """Builds views for one runtime and keeps the sparkline history between them."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._history = History()
        self._lock = threading.Lock()

    def view(self) -> dict[str, Any]:
        """The console view now (blocking: reads the records store)."""
        runtime = self._runtime
        status = runtime.status()
        events = runtime.records.recent(TIMELINE_LENGTH)
        with self._lock:
            self._sample(status)
            return build_view(status, runtime.topology, events, self._history, time.time())

    def _sample(self, status: dict[str, Any]) -> None:
        controller = self._runtime.controller
        trends = controller.trends
        writes: dict[str, float | None] = {}
        lags: dict[str, float | None] = {}
        for unit in self._runtime.topology.units:
            levels = trends.levels(unit) if trends is not None else None
            writes[unit] = round(volume(levels[0]), 2) if levels else None
            lags[unit] = largest_lag((status.get("units") or {}).get(unit) or {})
        self._history.add(controller.cycles, writes, lags)


def _feed(request: Request) -> ConsoleFeed:
    feed: ConsoleFeed = request.app.state.console
    return feed


FeedDep = Annotated[ConsoleFeed, Depends(_feed)]


def install_console(app: FastAPI) -> None:
    """Add the console's routes to ``app`` (the runtime's feed is set by
    :func:`attach_console`)."""

    @app.get("/console", response_class=HTMLResponse, include_in_schema=False)
    def page() -> HTMLResponse:
        html = resources.files("failover.console").joinpath("static/console.html")
        return HTMLResponse(html.read_text(encoding="utf-8"))

    @app.get("/v1/console")
    def console_view(feed: FeedDep) -> dict[str, Any]:
        """The console view: sites and their quorum verdicts, units (primary, standbys,
        epoch, lag, sparklines, warnings), pending approvals and the newest events
        (docs/monitoring.md, "The console")."""
        return feed.view()

    @app.get("/v1/console/stream", include_in_schema=False)
    async def console_stream(request: Request, feed: FeedDep) -> StreamingResponse:
        return StreamingResponse(
            _views(request, feed),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )


def attach_console(app: FastAPI, runtime: Runtime) -> None:
    app.state.console = ConsoleFeed(runtime)


async def _views(request: Request, feed: ConsoleFeed) -> AsyncIterator[str]:
    """``view`` events every :data:`STREAM_INTERVAL_SECONDS` for :data:`STREAM_SECONDS`,
    until the client goes away."""
    yield "retry: 1000\n\n"
    deadline = time.monotonic() + STREAM_SECONDS
    while time.monotonic() < deadline:
        view = await run_in_threadpool(feed.view)
        yield f"event: view\ndata: {json.dumps(view, separators=(',', ':'))}\n\n"
        await asyncio.sleep(STREAM_INTERVAL_SECONDS)
        if await request.is_disconnected():
            return
