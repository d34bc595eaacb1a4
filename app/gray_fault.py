"""A gray fault held in this process's memory, for the gray-failure drill: the unit
keeps answering every probe (``/healthz``, ``/readyz``, ``/v1/unit``) exactly as before
while its business answers go wrong — every write declined, or every write delayed.

Set with ``POST /admin/gray-fault`` (token-protected, docs/unit-service.md), cleared with
mode ``none``; a restart clears it too (nothing is stored). Declines are ordinary ledger
declines (201, ``status: declined``), journalled and replicated like any other: the
fault is in the unit's decision, not in its durability, so a drill still reads every
acknowledged write back. A delay is spent in the request's task before the write is
queued, so the group commit (and every other writer of the unit) is not held up by it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

log = logging.getLogger(__name__)

GrayMode = Literal["none", "decline-all", "slow"]
DEFAULT_DELAY_MS = 500
MAX_DELAY_MS = 10_000
"""Longer than any client waits (the drill's 5 s): a slower unit is a dead one."""


class GrayFaultRequest(BaseModel):
    """Body of ``POST /admin/gray-fault``: ``mode``, and for ``slow`` the delay
    (``delay_ms``, default 500); the other modes take no delay."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: GrayMode
    delay_ms: Annotated[int, Field(strict=True, ge=1, le=MAX_DELAY_MS)] | None = None

    @model_validator(mode="after")
    def _delay_only_when_slow(self) -> GrayFaultRequest:
        if self.delay_ms is not None and self.mode != "slow":
            raise ValueError(f"delay_ms is only for mode 'slow', not {self.mode!r}")
        return self

    @property
    def delay_seconds(self) -> float:
        if self.mode != "slow":
            return 0.0
        return (self.delay_ms or DEFAULT_DELAY_MS) / 1000.0


class GrayFault:
    """The standing gray fault of this instance (none at start). Thread-safe.

    ``sleep`` spends a slow fault's delay in the request's task (injected so a test can
    see the delay asked for without waiting for it)."""

    def __init__(self, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self._sleep = sleep
        self._lock = threading.Lock()
        self._request = GrayFaultRequest(mode="none")
        self._since: float | None = None

    def set(self, request: GrayFaultRequest) -> dict[str, Any]:
        """Replace the standing fault; returns :meth:`view`."""
        with self._lock:
            self._request = request
            self._since = None if request.mode == "none" else time.time()
        if request.mode == "none":
            log.warning("gray fault cleared")
        else:
            log.warning("gray fault set: %s", request.model_dump(exclude_none=True))
        return self.view()

    def view(self) -> dict[str, Any]:
        """``{"mode", "delay_ms", "since"}``: ``delay_ms`` null unless slow, ``since`` the
        Unix time it was set (null without a fault)."""
        with self._lock:
            request, since = self._request, self._since
        delay = round(request.delay_seconds * 1000) if request.mode == "slow" else None
        return {"mode": request.mode, "delay_ms": delay, "since": since}

    def declines(self) -> bool:
        """Whether every new write is to be declined."""
        with self._lock:
            return self._request.mode == "decline-all"

    async def delay(self) -> None:
        """Sleep for the standing delay (none unless slow), in the request's task."""
        with self._lock:
            seconds = self._request.delay_seconds
        if seconds > 0:
            await self._sleep(seconds)
