"""Fixed-rate loops: one definition of "do this every interval" for the long-running
processes (the observer's rounds, the controller's cycles).

A step starts every ``interval`` seconds measured from the previous step's *start*, so
a step that takes longer than the interval is followed almost at once (after a short
floor, a tenth of the interval, so a loop whose every step overruns, say against a slow
etcd, still leaves the store and the cores some air) instead of after a full interval
more. That matters most when the controller's cycle carries out a failover:
the cycle that runs the promotions can take a second or more, and the next cycle (the
one that sees a unit whose old lease has just lapsed) must not wait out another whole
interval on top (docs/design.md §3.7).

A loop may also be *woken* (:class:`Wake`): something worth a step happened (the
controller: an observer counts failed rounds, a primary's lease lapsed), so the next step
starts at once, but never sooner than the floor after the previous one ended.

The clock and the waits are injected so the pacing is tested without sleeping.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Protocol


class Stopper(Protocol):
    """What a loop waits on: ``wait`` returns early (and ``is_set`` turns true) on stop."""

    def is_set(self) -> bool: ...

    def wait(self, timeout: float | None = None) -> bool: ...


class Wake(Protocol):
    """What a wakeable loop waits on between steps (a ``threading.Event``): ``wait``
    returns early once ``set``; the loop ``clear``s it as a step starts. Whoever stops
    the loop sets it too, so a stop does not wait out the pause."""

    def wait(self, timeout: float | None = None) -> bool: ...

    def clear(self) -> None: ...


#: The shortest pause between two steps, as a share of the interval.
FLOOR_SHARE = 0.1


def pause_before_next(interval: float, started: float, now: float) -> float:
    """Seconds to wait before the next step: what is left of ``interval`` since
    ``started``, but at least a tenth of the interval."""
    return max(interval * FLOOR_SHARE, interval - (now - started))


def run_at_fixed_rate(
    step: Callable[[], object],
    interval: float,
    stop: Stopper,
    log: logging.Logger,
    what: str,
    clock: Callable[[], float] = time.monotonic,
    wake: Wake | None = None,
) -> None:
    """Call ``step`` every ``interval`` seconds until ``stop`` is set; with ``wake``, as
    soon as it is set, but at least the floor after the previous step ended.

    An exception from one step is logged (``"<what> failed"``) and the loop goes on: a
    bug in one round or cycle must not silence the process that runs it.
    """
    while not stop.is_set():
        started = clock()
        if wake is not None:
            wake.clear()  # what woke us is seen by this step; later news wakes the next
        try:
            step()
        except Exception:
            log.exception("%s failed", what)
        pause = pause_before_next(interval, started, clock())
        if wake is None:
            stop.wait(pause)
            continue
        floor = min(pause, interval * FLOOR_SHARE)
        stop.wait(floor)
        if pause > floor and not stop.is_set():
            wake.wait(pause - floor)
