"""An ASGI app served by a real uvicorn on a loopback port, in a thread, for a test.

Shared by the fuzz suite (every service under schemathesis) and the console's approval
test (a harness controller under a real Chromium).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn

from infra.local.ports import LOOPBACK, free_port


@contextmanager
def serving(
    app: Any, ready_path: str = "/healthz", graceful_shutdown_seconds: int | None = None
) -> Iterator[str]:
    """Serve ``app`` with uvicorn (lifespan on, as in production) on a loopback port in a
    thread; yields its base URL once ``ready_path`` answers 200 (fails after 30 s).
    ``graceful_shutdown_seconds`` bounds the wait for open connections (a console's
    event stream) at the end."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app, host=LOOPBACK, port=port, log_level="warning", lifespan="on",
            timeout_graceful_shutdown=graceful_shutdown_seconds,
        )
    )  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://{LOOPBACK}:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(url + ready_path, timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or not thread.is_alive():
            server.should_exit = True
            raise AssertionError(f"{url} did not come up")
        time.sleep(0.1)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)
