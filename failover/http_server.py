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
"""

from __future__ import annotations

from typing import Any, Final

UVICORN_PROTOCOLS: Final[dict[str, Any]] = {"http": "httptools", "loop": "asyncio"}
"""Keyword arguments for ``uvicorn.run``/``uvicorn.Config``."""

FASTAPI_APP: Final[dict[str, Any]] = {
    "telemetry": {"tracing": False, "metrics": False, "logs": False}
}
"""Keyword arguments for every ``FastAPI(...)`` of ours."""
