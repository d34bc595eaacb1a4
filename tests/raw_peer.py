"""A raw TCP peer on a loopback port, for tests of our own HTTP clients (the keep-alive
client, the replication links, the observers' probes): each accepted connection goes to
the test's handler in a thread of its own, which answers, hangs or sends garbage on it
exactly as told — what no real server would do on demand.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

Handler = Callable[[socket.socket], None]
"""Takes one accepted connection; it owns it (closes it, or keeps it open to hang)."""


def read_head(conn: socket.socket) -> bytes | None:
    """What arrived up to the end of a request's head (and maybe some body); None when
    the client closed first."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    return data


def http_answer(status: str, body: bytes) -> bytes:
    """An HTTP/1.1 answer with ``status`` (``"200 OK"``) and ``body``."""
    return f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body


@contextmanager
def raw_peer(handler: Handler) -> Iterator[tuple[str, list[int]]]:
    """Listen on a free loopback port; yields its base URL (``http://127.0.0.1:N``) and a
    list that grows by one per accepted connection. Stops accepting on exit."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    server.settimeout(0.1)
    accepted: list[int] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            accepted.append(1)
            threading.Thread(target=handler, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}", accepted
    finally:
        stop.set()
        thread.join()
        server.close()
