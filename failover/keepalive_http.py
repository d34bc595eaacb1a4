"""A keep-alive HTTP/1.1 client on blocking sockets, for the hot internal calls from
threads that need nothing more: the unit primaries' replication shipments (a POST per
batch per standby). (The observers' probes, which used it too, now go out from an event
loop: :mod:`failover.observer.probes`.)

With httpx, two thirds of an idle observer's CPU and a quarter of a primary's went into
the client's machinery around each request (docs/benchmarks.md); the standard library's
``http.client`` still cost ~130 µs of CPU a request, most of it parsing the answer's
headers with the e-mail parser. These calls need none of it: one persistent connection
per peer, one request at a time on it, the status and the body, read by the one HTTP/1.1
reading the asyncio client uses too (:mod:`failover.http1_wire`): ~40 µs. Stands alone
(the standard library and that module only).

Contract of :meth:`KeepAliveClient.request`: returns ``(status, body)`` for any HTTP
answer, or raises :class:`RefusedError` (nobody listens: worth one more try) or
:class:`NoAnswerError` (timed out, reset, TLS failed, garbage: the peer did not answer).
The connect timeout bounds connecting (and the TLS handshake); the read timeout bounds
each wait for the answer, so a peer that accepts and never answers (SIGSTOPped,
blackholed) costs one read timeout. A kept connection the peer has closed since its last
use (its keep-alive timer) is replaced and the request sent again once, silently: so
**only idempotent requests** may go through this client (a probe's GET; a shipment,
which a standby applies at most once by lsn).
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from failover.http1_wire import (
    BadAnswerError,
    BlockingReader,
    ClosedBeforeAnswerError,
    request_head,
)

_Peer = tuple[str, str, int]


class NoAnswerError(Exception):
    """The peer did not answer (timeout, reset, TLS or protocol error)."""


class RefusedError(NoAnswerError):
    """Nobody accepted the connection: a fast failure, worth one more try."""


class KeepAliveClient:
    """Keep-alive requests to many peers; thread-safe, one request per peer at a time
    (a second concurrent request to the same peer opens a connection of its own)."""

    def __init__(
        self, connect_timeout: float, read_timeout: float, tls: ssl.SSLContext | None = None
    ) -> None:
        self._connect_timeout, self._read_timeout, self._tls = connect_timeout, read_timeout, tls
        self._idle: dict[_Peer, _Connection] = {}
        self._lock = threading.Lock()

    def get(self, url: str) -> tuple[int, bytes]:
        """``request("GET", url)``."""
        return self.request("GET", url)

    def request(
        self,
        method: str,
        url: str,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, bytes]:
        """Send one idempotent request: ``(status, body)``; raises :class:`NoAnswerError`
        (or :class:`RefusedError`)."""
        parts = urlsplit(url)
        peer = (parts.scheme, parts.hostname or "", parts.port or _default_port(parts.scheme))
        fields = {"Accept": "application/json", **(headers or {})}
        sent = _Request(
            method,
            parts.path or "/",
            body or b"",
            [(k.encode("latin-1"), v.encode("latin-1")) for k, v in fields.items()],
        )
        with self._lock:
            kept = self._idle.pop(peer, None)
        if kept is not None:
            try:
                return self._exchange(peer, kept, sent, fresh=False)
            except _StaleError:
                pass
        return self._exchange(peer, self._connect(peer), sent, fresh=True)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = list(self._idle.values()), {}
        for connection in idle:
            connection.sock.close()

    def _connect(self, peer: _Peer) -> _Connection:
        scheme, host, port = peer
        try:
            sock = socket.create_connection((host, port), timeout=self._connect_timeout)
        except ConnectionRefusedError as exc:
            raise RefusedError(f"{host}:{port} refused the connection") from exc
        except OSError as exc:  # timeouts are OSErrors too
            raise NoAnswerError(f"cannot connect to {host}:{port}: {exc!r}") from exc
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if scheme == "https":
                context = self._tls or ssl.create_default_context()
                sock = context.wrap_socket(sock, server_hostname=host)  # handshakes here
        except OSError as exc:  # TLS errors are OSErrors too
            sock.close()
            raise NoAnswerError(f"cannot connect to {host}:{port}: {exc!r}") from exc
        sock.settimeout(self._read_timeout)
        return _Connection(sock, BlockingReader(sock), f"{host}:{port}")

    def _exchange(
        self, peer: _Peer, connection: _Connection, sent: _Request, *, fresh: bool
    ) -> tuple[int, bytes]:
        """One request on ``connection``; keeps it for the next one when the peer allows.
        Raises :class:`_StaleError` when a kept (not ``fresh``) connection turns out closed."""
        where = connection.where
        try:
            head = request_head(sent.method, sent.path, where, sent.headers, len(sent.body))
            connection.sock.sendall(head + sent.body)
            answer, keep = connection.reader.receive(sent.method)
        except (ClosedBeforeAnswerError, ConnectionResetError, BrokenPipeError) as exc:
            connection.sock.close()
            if not fresh:
                raise _StaleError() from exc
            raise NoAnswerError(f"{where} closed the connection: {exc!r}") from exc
        except (OSError, EOFError, BadAnswerError, ValueError) as exc:
            # EOFError: closed mid-answer (asyncio.IncompleteReadError); ValueError: a
            # header that would smuggle a line break was refused before sending.
            connection.sock.close()
            raise NoAnswerError(f"{where} did not answer: {exc!r}") from exc
        if keep:
            with self._lock:
                spare = self._idle.setdefault(peer, connection)
            if spare is not connection:  # another request to this peer kept its own meanwhile
                connection.sock.close()
        else:
            connection.sock.close()
        return answer.status, answer.body


@dataclass(frozen=True)
class _Connection:
    sock: socket.socket
    reader: BlockingReader
    where: str
    """``host:port``, also the request's Host header."""


@dataclass(frozen=True)
class _Request:
    method: str
    path: str
    body: bytes
    headers: list[tuple[bytes, bytes]]


class _StaleError(Exception):
    """A kept connection the peer had closed since the last request."""


def _default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80
