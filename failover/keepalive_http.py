"""A keep-alive HTTP/1.1 client over the standard library's ``http.client``, for the
hot internal calls from threads that need nothing more: the unit primaries' replication
shipments (a POST per batch per standby). (The observers' probes, which used it too, now
go out from an event loop: :mod:`failover.observer.probes`.)

With httpx, two thirds of an idle observer's CPU and a quarter of a primary's went into
the client's machinery around each request (its connection pool's bookkeeping, stream
and response wrappers, auth flow: docs/benchmarks.md). These calls need none of it: one
persistent connection per peer, one request at a time on it, the status and the body.
Stands alone (the standard library only).

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

import http.client
import ssl
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

#: The largest answer read; a peer sending more did not answer.
MAX_BODY_BYTES = 1024 * 1024

_Peer = tuple[str, str, int]
_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


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
        self._idle: dict[_Peer, http.client.HTTPConnection] = {}
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
        sent = _Request(
            method, parts.path or "/", body, {"Accept": "application/json", **(headers or {})}
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
            connection.close()

    def _connect(self, peer: _Peer) -> http.client.HTTPConnection:
        scheme, host, port = peer
        connection: http.client.HTTPConnection
        if scheme == "https":
            context = self._tls or ssl.create_default_context()
            connection = http.client.HTTPSConnection(
                host, port, timeout=self._connect_timeout, context=context
            )
        else:
            connection = http.client.HTTPConnection(host, port, timeout=self._connect_timeout)
        try:
            connection.connect()
        except ConnectionRefusedError as exc:
            connection.close()
            raise RefusedError(f"{host}:{port} refused the connection") from exc
        except OSError as exc:  # timeouts and TLS errors are OSErrors too
            connection.close()
            raise NoAnswerError(f"cannot connect to {host}:{port}: {exc!r}") from exc
        assert connection.sock is not None  # connect() succeeded
        connection.sock.settimeout(self._read_timeout)
        return connection

    def _exchange(
        self, peer: _Peer, connection: http.client.HTTPConnection, sent: _Request, *, fresh: bool
    ) -> tuple[int, bytes]:
        """One request on ``connection``; keeps it for the next one when the peer allows.
        Raises :class:`_StaleError` when a kept (not ``fresh``) connection turns out closed."""
        try:
            connection.request(sent.method, sent.path, body=sent.body, headers=sent.headers)
            response = connection.getresponse()
            body = response.read(MAX_BODY_BYTES + 1)
        except _STALE as exc:
            connection.close()
            if not fresh:
                raise _StaleError() from exc
            raise NoAnswerError(f"{peer[1]}:{peer[2]} closed the connection: {exc!r}") from exc
        except (OSError, http.client.HTTPException) as exc:
            connection.close()
            raise NoAnswerError(f"{peer[1]}:{peer[2]} did not answer: {exc!r}") from exc
        if len(body) > MAX_BODY_BYTES:
            connection.close()
            raise NoAnswerError(f"{peer[1]}:{peer[2]} answered more than {MAX_BODY_BYTES} bytes")
        if response.will_close:
            connection.close()
        else:
            with self._lock:
                spare = self._idle.setdefault(peer, connection)
            if spare is not connection:  # another GET to this peer kept its own meanwhile
                connection.close()
        return response.status, body


@dataclass(frozen=True)
class _Request:
    method: str
    path: str
    body: bytes | None
    headers: dict[str, str]


class _StaleError(Exception):
    """A kept connection the peer had closed since the last probe."""


def _default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80
