"""HTTP/1.1 on one kept connection, as the keep-alive clients need it
(:mod:`failover.keepalive_asyncio` on an event loop, :mod:`failover.keepalive_http` on
threads): a request with a ``Content-Length`` body, one answer read (``Content-Length``,
chunked, or until close).

Contract: :func:`request_head` builds a request's head (the caller writes it and the
body); :func:`receive` (an asyncio stream) and :meth:`BlockingReader.receive` (a blocking
socket) read exactly one answer, both by :func:`answer_steps`, and say whether the
connection may carry another. A peer that breaks the protocol (a bad status line, an
oversized head or body, a malformed chunk) raises :class:`BadAnswerError`; a peer that
closed the connection before one byte of the answer raises
:class:`ClosedBeforeAnswerError` (the mark of a kept connection it had already given
up); end of stream later in the answer raises :class:`asyncio.IncompleteReadError`.
Timeouts are the caller's (``asyncio.timeout`` around each call; the socket's timeout,
which raises :class:`TimeoutError`).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Generator, Sequence
from dataclasses import dataclass

#: The largest head (status line and headers) and body read from a peer.
MAX_HEAD_BYTES = 64 * 1024
MAX_BODY_BYTES = 1024 * 1024

_NO_BODY_STATUS = frozenset({204, 304})
_RECV_BYTES = 64 * 1024


class BadAnswerError(Exception):
    """The peer's answer is not HTTP/1.1 we can read."""


class ClosedBeforeAnswerError(Exception):
    """The peer closed the connection before sending one byte of an answer."""


@dataclass(frozen=True)
class Answer:
    """One HTTP answer: status, headers (names lower case, in order), body."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (lower case), or None."""
        return _first(self.headers, name)


def request_head(
    method: str, target: str, host: str, headers: Sequence[tuple[bytes, bytes]], length: int
) -> bytes:
    """The request line and headers. A header name or value holding a CR or LF is
    refused (ValueError): it would let a value smuggle a second request. The router's
    come from a request its HTTP server already parsed, so it never sends one."""
    lines = [f"{method} {target} HTTP/1.1\r\nHost: {host}\r\n".encode("ascii")]
    for name, value in headers:
        if b"\r" in name or b"\n" in name or b"\r" in value or b"\n" in value:
            raise ValueError(f"header {name!r} holds a line break")
        lines.append(name + b": " + value + b"\r\n")
    lines.append(b"content-length: %d\r\n\r\n" % length)
    return b"".join(lines)


# What one parse step asks its reader for (see answer_steps).
@dataclass(frozen=True, slots=True)
class Until:
    """The bytes up to and including ``separator`` (at most :data:`MAX_HEAD_BYTES`)."""

    separator: bytes


@dataclass(frozen=True, slots=True)
class Exactly:
    """Exactly ``size`` bytes."""

    size: int


@dataclass(frozen=True, slots=True)
class ToEnd:
    """Whatever comes until the peer closes, at most ``limit`` bytes."""

    limit: int


Need = Until | Exactly | ToEnd
AnswerSteps = Generator[Need, bytes, tuple[Answer, bool]]


def answer_steps(method: str) -> AnswerSteps:
    """The reading of one answer to a ``method`` request, without I/O: each step yields
    what it needs and is sent those bytes; it returns the answer and whether the
    connection can be used again. :func:`receive` drives it on an asyncio stream,
    :class:`BlockingReader` on a blocking socket: one reading of the wire for both."""
    head = yield Until(b"\r\n\r\n")
    version, status, headers = _parse_head(head)
    if status < 200:  # the router never sends Expect: an interim answer is not ours
        raise BadAnswerError(f"unexpected informational answer {status}")
    keep = _keeps_alive(version, headers)
    if method == "HEAD" or status in _NO_BODY_STATUS:
        return Answer(status, headers, b""), keep
    encoding = _first(headers, "transfer-encoding")
    length = _first(headers, "content-length")
    if encoding is not None:
        if encoding.lower() != "chunked":
            raise BadAnswerError(f"unsupported transfer-encoding {encoding!r}")
        body = yield from _chunked_steps()
    elif length is not None:
        body = yield Exactly(_content_length(length))
    else:
        body = yield ToEnd(MAX_BODY_BYTES + 1)
        if len(body) > MAX_BODY_BYTES:
            raise BadAnswerError(f"body over {MAX_BODY_BYTES} bytes")
        keep = False
    return Answer(status, headers, body), keep


async def receive(reader: asyncio.StreamReader, method: str) -> tuple[Answer, bool]:
    """Read one answer; returns it and whether the connection can be used again. The
    reader's limit must be :data:`MAX_HEAD_BYTES`."""
    steps = answer_steps(method)
    need, first = next(steps), True
    try:
        while True:
            data = await _fetch(reader, need, first)
            need, first = steps.send(data), False
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    except asyncio.LimitOverrunError as exc:
        raise BadAnswerError(f"a line of the answer is over {MAX_HEAD_BYTES} bytes") from exc


async def _fetch(reader: asyncio.StreamReader, need: Need, first: bool) -> bytes:
    if isinstance(need, Until):
        try:
            return await reader.readuntil(need.separator)
        except asyncio.IncompleteReadError as exc:
            if first and not exc.partial:
                raise ClosedBeforeAnswerError() from exc
            raise
    if isinstance(need, Exactly):
        return await reader.readexactly(need.size)
    body = b""
    while len(body) < need.limit and (more := await reader.read(need.limit - len(body))):
        body += more
    return body


class BlockingReader:
    """Reads answers from a blocking socket, as :func:`receive` does from a stream: the
    same errors, and the socket's own timeout bounds each wait for bytes."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._buffer = bytearray()

    def receive(self, method: str) -> tuple[Answer, bool]:
        """Read one answer; returns it and whether the connection can be used again."""
        steps = answer_steps(method)
        need, first = next(steps), True
        try:
            while True:
                data = self._fetch(need, first)
                need, first = steps.send(data), False
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]

    def _fetch(self, need: Need, first: bool) -> bytes:
        if isinstance(need, Until):
            while (end := self._buffer.find(need.separator)) < 0:
                if len(self._buffer) > MAX_HEAD_BYTES:
                    raise BadAnswerError(f"a line of the answer is over {MAX_HEAD_BYTES} bytes")
                if not self._more():
                    partial = bytes(self._buffer)
                    if first and not partial:
                        raise ClosedBeforeAnswerError()
                    raise asyncio.IncompleteReadError(partial, None)
            return self._take(end + len(need.separator))
        if isinstance(need, Exactly):
            while len(self._buffer) < need.size:
                if not self._more():
                    raise asyncio.IncompleteReadError(bytes(self._buffer), need.size)
            return self._take(need.size)
        while len(self._buffer) < need.limit and self._more():
            pass
        return self._take(min(need.limit, len(self._buffer)))

    def _more(self) -> bool:
        data = self._sock.recv(_RECV_BYTES)
        self._buffer += data
        return bool(data)

    def _take(self, size: int) -> bytes:
        taken = bytes(self._buffer[:size])
        del self._buffer[:size]
        return taken


def _parse_head(head: bytes) -> tuple[str, int, tuple[tuple[str, str], ...]]:
    try:
        text = head.decode("latin-1")
        status_line, *lines = text[:-4].split("\r\n")
        version, code, *_ = status_line.split(" ", 2)
        status = int(code)
    except ValueError as exc:
        raise BadAnswerError(f"bad status line {head[:80]!r}") from exc
    if version not in ("HTTP/1.1", "HTTP/1.0") or not 100 <= status <= 599:
        raise BadAnswerError(f"bad status line {status_line[:80]!r}")
    headers = []
    for line in lines:
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip():
            raise BadAnswerError(f"bad header line {line[:80]!r}")
        headers.append((name.lower(), value.strip(" \t")))
    return version, status, tuple(headers)


def _first(headers: tuple[tuple[str, str], ...], name: str) -> str | None:
    """The first value of header ``name`` (lower case) in ``headers``, or None."""
    return next((v for k, v in headers if k == name), None)


def _keeps_alive(version: str, headers: tuple[tuple[str, str], ...]) -> bool:
    connection = (_first(headers, "connection") or "").lower()
    if version == "HTTP/1.0":
        return "keep-alive" in connection
    return "close" not in connection


def _content_length(value: str) -> int:
    if not value.isdigit() or int(value) > MAX_BODY_BYTES:
        raise BadAnswerError(f"content-length {value[:40]!r} is not 0..{MAX_BODY_BYTES}")
    return int(value)


def _chunked_steps() -> Generator[Need, bytes, bytes]:
    parts: list[bytes] = []
    total = 0
    while True:
        line = yield Until(b"\r\n")
        size_text = line[:-2].split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError as exc:
            raise BadAnswerError(f"bad chunk size {size_text[:20]!r}") from exc
        if size == 0:
            while (yield Until(b"\r\n")) != b"\r\n":  # trailers, ignored
                pass
            return b"".join(parts)
        total += size
        if size < 0 or total > MAX_BODY_BYTES:
            raise BadAnswerError(f"chunked body over {MAX_BODY_BYTES} bytes")
        chunk = yield Exactly(size + 2)
        if chunk[-2:] != b"\r\n":
            raise BadAnswerError("chunk not followed by CRLF")
        parts.append(chunk[:-2])
