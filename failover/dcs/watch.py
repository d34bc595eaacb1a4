"""Prefix watch with reconnect and resync: no change is ever silently missed.

A background thread loops: take a linearizable snapshot of the prefix (revision R) and
deliver it, then stream changes from R+1 until the stream fails, stays silent longer than
``idle_timeout`` (etcd sends progress notifications, so silence means a dead path), or is
older than ``resync_interval`` (a member cut off from the quorum could otherwise feed a
stale but healthy-looking stream). Then it waits (:func:`policies.watch_backoff`) and
starts over on the next endpoint. Consumers replace their view on every ``SNAPSHOT``.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

import requests

from failover.dcs import policies
from failover.dcs.codec import as_int, b64, key_value, prefix_end, unb64
from failover.dcs.errors import DcsError
from failover.dcs.port import KeyValue, WatchCallback, WatchEvent, WatchKind, WatchUpdate
from failover.etcd_gateway import new_session
from failover.tls import from_env

log = logging.getLogger(__name__)

Snapshotter = Callable[[str], tuple[dict[str, KeyValue], int]]


class ResyncError(Exception):
    """The watch stream must be re-established (and the view resynced)."""


class PrefixWatcher:
    """Runs one prefix watch in a daemon thread until :meth:`stop`."""

    def __init__(
        self,
        endpoints: tuple[str, ...],
        prefix: str,
        callback: WatchCallback,
        snapshot: Snapshotter,
        *,
        connect_timeout: float = 1.0,
        idle_timeout: float = 5.0,
        resync_interval: float = 30.0,
        clock: Callable[[], float],
    ) -> None:
        self._endpoints = endpoints
        self._prefix = prefix
        self._callback = callback
        self._snapshot = snapshot
        self._connect_timeout = connect_timeout
        self._idle_timeout = idle_timeout
        self._resync_interval = resync_interval
        self._clock = clock
        self._stopped = threading.Event()
        self._response: requests.Response | None = None
        self._thread = threading.Thread(target=self._run, name=f"watch:{prefix}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        response = self._response
        if response is not None:
            _shutdown(response)
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=self._idle_timeout + 1.0)

    def _run(self) -> None:
        failures = 0
        endpoint = 0
        while not self._stopped.is_set():
            try:
                items, revision = self._snapshot(self._prefix)
                self._deliver(WatchUpdate(WatchKind.SNAPSHOT, revision, snapshot=items))
                failures = 0
                self._stream(self._endpoints[endpoint], revision + 1)
            except (DcsError, ResyncError, requests.RequestException, ValueError) as exc:
                if self._stopped.is_set():
                    break
                failures += 1
                endpoint = (endpoint + 1) % len(self._endpoints)
                log.info("watch %s: %s; resyncing", self._prefix, exc)
                self._stopped.wait(policies.watch_backoff(failures))

    def _deliver(self, update: WatchUpdate) -> None:
        if not self._stopped.is_set():
            try:
                self._callback(update)
            except Exception:
                log.exception("watch %s: callback failed; continuing", self._prefix)

    def _stream(self, endpoint: str, start_revision: int) -> None:
        body = {
            "create_request": {
                "key": b64(self._prefix),
                "range_end": prefix_end(self._prefix),
                "start_revision": str(start_revision),
                "progress_notify": True,
            }
        }
        opened = self._clock()
        with new_session(from_env()) as session:
            response = session.post(
                f"{endpoint}/v3/watch",
                json=body,
                stream=True,
                timeout=(self._connect_timeout, self._idle_timeout),
            )
            self._response = response
            try:
                if response.status_code != 200:
                    raise ResyncError(f"watch answered HTTP {response.status_code}")
                for message in _messages(response):
                    self._handle(message)
                    if self._clock() - opened > self._resync_interval:
                        raise ResyncError("periodic resync")
                    if self._stopped.is_set():
                        return
                raise ResyncError("stream closed by the server")
            finally:
                self._response = None
                response.close()

    def _handle(self, message: dict[str, Any]) -> None:
        result = message.get("result")
        if not isinstance(result, dict):
            raise ResyncError(f"watch error: {message.get('error', message)}")
        if result.get("canceled") or result.get("compact_revision"):
            raise ResyncError(f"watch canceled: {result.get('cancel_reason', 'compacted')}")
        events = [_event(e) for e in result.get("events", [])]
        if events:
            revision = as_int(result.get("header", {}).get("revision"))
            self._deliver(WatchUpdate(WatchKind.CHANGES, revision, events=events))


def _event(raw: dict[str, Any]) -> WatchEvent:
    kv = raw["kv"]
    deleted = raw.get("type") == "DELETE"
    return WatchEvent(
        key=unb64(kv["key"]),
        value=None if deleted else key_value(kv).value,
        mod_revision=as_int(kv.get("mod_revision")),
    )


def _messages(response: requests.Response) -> Iterator[dict[str, Any]]:
    """Newline-delimited JSON objects of the gateway's streaming answer."""
    buffer = b""
    for chunk in response.iter_content(chunk_size=None):
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            if line.strip():
                yield json.loads(line)


def _shutdown(response: requests.Response) -> None:
    """Unblock a thread stuck reading the stream (closing alone does not)."""
    connection = getattr(response.raw, "_connection", None) or getattr(
        response.raw, "connection", None
    )
    sock = getattr(connection, "sock", None)
    try:
        if sock is not None:
            sock.shutdown(2)
    except OSError:
        pass
