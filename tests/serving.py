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

from failover.tls import TlsFiles, scheme
from infra.local.ports import LOOPBACK, free_port


@contextmanager
def serving(
    app: Any,
    ready_path: str = "/healthz",
    graceful_shutdown_seconds: int | None = None,
    tls: tuple[TlsFiles, TlsFiles] | None = None,
) -> Iterator[str]:
    """Serve ``app`` with uvicorn (lifespan on, as in production) on a loopback port in a
    thread; yields its base URL once ``ready_path`` answers 200 (fails after 30 s).
    ``graceful_shutdown_seconds`` bounds the wait for open connections (a console's
    event stream) at the end. ``tls`` is (the server's files, a client's files): the
    server then requires client certificates, as a site-to-site listener does."""
    port = free_port()
    options = tls[0].uvicorn_options() if tls else {}
    server = uvicorn.Server(
        uvicorn.Config(
            app, host=LOOPBACK, port=port, log_level="warning", lifespan="on",
            timeout_graceful_shutdown=graceful_shutdown_seconds, **options,
        )
    )  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"{scheme(tls is not None)}://{LOOPBACK}:{port}"
    verify = tls[1].client_context() if tls else True
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(url + ready_path, timeout=1, verify=verify).status_code == 200:
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
