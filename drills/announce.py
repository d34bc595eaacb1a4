"""A running drill's notes to the controllers: each executed step, sent in the
background so that a slow or unreachable controller never delays the drill's own clock.

The notes become ``drill_note`` events of every controller that takes them (``POST
/v1/drill-notes``), which is how a console's timeline shows the drill's steps beside
the verdicts and promotions they cause (docs/monitoring.md, "The console"). They are
words only: nothing the drill measures or judges reads them back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from drills.executed import ExecutedAction
from drills.platform import DrillPlatform

log = logging.getLogger(__name__)

SETTLE_SECONDS = 5.0
"""How long the end of a drill waits for notes still on their way, at most."""


class Announcer:
    """Sends notes for one drill run; call :meth:`settle` before the event loop ends."""

    def __init__(self, platform: DrillPlatform, drill: str) -> None:
        self._platform, self._drill = platform, drill
        self._pending: set[asyncio.Task[None]] = set()

    def say(self, note: str) -> None:
        """Send ``note`` in the background (needs a running event loop)."""
        task = asyncio.create_task(self._send(note))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    def step(self, action: ExecutedAction) -> None:
        """The note for one executed method or rollback step."""
        outcome = "done" if action.ok else "FAILED"
        self.say(f"{action.phase} at {action.started_at:.1f} s: {action.command} — "
                 f"{outcome}: {action.detail}")  # fmt: skip

    async def settle(self) -> None:
        """Wait for the notes still pending, at most :data:`SETTLE_SECONDS`; the rest are
        cancelled (a note is never worth holding a drill's end)."""
        if not self._pending:
            return
        _, late = await asyncio.wait(set(self._pending), timeout=SETTLE_SECONDS)
        for task in late:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*late, return_exceptions=True)

    async def _send(self, note: str) -> None:
        # A platform's announce is best-effort already; should one raise all the same,
        # say so here rather than as an unretrieved task exception at the loop's end.
        try:
            await self._platform.announce(self._drill, note)
        except Exception:
            log.warning("a drill note was not sent: %s", note, exc_info=True)
