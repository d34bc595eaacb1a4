"""The benchmarks' wrk load against a real server that keeps every Idempotency-Key.

A write's figure counts what the router acknowledged; it is a figure of writes only if
every request carries a key never sent before. Until 2026-12-02 the Lua script shadowed
``tid`` with a chunk-level local, so both wrk threads sent the same keys for the same
customers and every second answer was a replay (200).
"""

from __future__ import annotations

import shutil
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from wrk_load import run_wrk

pytestmark = pytest.mark.skipif(
    shutil.which("wrk") is None, reason="Debian's wrk is not installed (.ci/run installs it)"
)


class KeyLedger(ThreadingHTTPServer):
    """Answers 201 to a key it has not seen, 200 (a replay) to one it has; or 200 to
    everything with ``replay_all``."""

    def __init__(self, replay_all: bool = False) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.replay_all = replay_all
        self.keys: dict[str, int] = {}
        self.lock = threading.Lock()

    def handle_error(self, request: object, client_address: object) -> None:
        return  # wrk resets its connections when its time is up


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: KeyLedger

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        key = f"{self.path} {self.headers.get('Idempotency-Key')}"
        with self.server.lock:
            seen = self.server.keys.get(key, 0)
            self.server.keys[key] = seen + 1
        status = 200 if seen or self.server.replay_all else 201
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: object) -> None:
        return


def serving(server: KeyLedger) -> Iterator[str]:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def ledger() -> Iterator[tuple[KeyLedger, str]]:
    server = KeyLedger()
    for url in serving(server):
        yield server, url


def test_every_request_of_every_wrk_thread_carries_a_key_never_sent_before(
    ledger: tuple[KeyLedger, str],
) -> None:
    server, url = ledger
    figures = run_wrk(url, connections=8, seconds=2, customers=2000)
    assert server.keys, "wrk sent nothing"
    assert max(server.keys.values()) == 1
    assert figures["replays"] == 0
    idempotency_keys = {key.split(" ")[1] for key in server.keys}
    assert len({k.split("-")[1] for k in idempotency_keys}) == 2  # both threads' ids


def test_a_load_answered_with_replays_is_refused_rather_than_counted_as_writes() -> None:
    server = KeyLedger(replay_all=True)
    for url in serving(server):
        with pytest.raises(SystemExit, match="replays"):
            run_wrk(url, connections=4, seconds=1, customers=100)
