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

The clock and the wait are injected so the pacing is tested without sleeping.
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
) -> None:
    """Call ``step`` every ``interval`` seconds until ``stop`` is set.

    An exception from one step is logged (``"<what> failed"``) and the loop goes on: a
    bug in one round or cycle must not silence the process that runs it.
    """
    while not stop.is_set():
        started = clock()
        try:
            step()
        except Exception:
            log.exception("%s failed", what)
        stop.wait(pause_before_next(interval, started, clock()))
