"""Each unit's steps on a thread of their own; a unit's steps never overlap.

A cycle hands :meth:`UnitSteps.run` the steps of every unit it acts on and waits for
them all, as before, *unless it is woken meanwhile* (failover/controller/wakeups.py: an
old primary's lease lapsed, an observer counts another failed round). Then it returns at
once and leaves the steps running, so the next cycle can move a unit whose lease lapsed
while another unit's promotion (catch-up, route move, the new primary taking its lease:
most of a second under load) was still going. Without this, that unit waited for the
whole promotion of the others before a cycle could even see it (docs/controller.md,
"cycles and wakes").

Until its steps end, a unit is *acting*: the cycles that follow start nothing for it and
write nothing of it (its replication mark, its approvals), because their snapshot may
predate what its steps are doing. Planned operations wait for every acting unit first
(:meth:`UnitSteps.join`). A step that ends in :class:`~failover.errors.NotLeader` or
:class:`~failover.dcs.DcsError` while nobody waits for it is logged; the next cycle
re-derives everything from etcd, as after any failed step.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from functools import partial

from failover.actions import Action
from failover.dcs import DcsError
from failover.errors import NotLeader

LOG = logging.getLogger("failover.controller")

#: Threads for units' steps at once (more units queue: each step is bounded by its own
#: timeouts, so a queued unit waits at most for one step of another).
MAX_UNITS_AT_ONCE = 32
#: How often a cycle waiting for its steps looks at whether it was woken.
POLL_SECONDS = 0.02


@dataclass(frozen=True)
class Ran:
    """What :meth:`UnitSteps.run` did: the outcome sentences of the steps that ended
    while it waited, the units it left out because steps of an earlier cycle still run
    for them, and the units whose steps it left running because it was woken."""

    outcomes: tuple[str, ...] = ()
    held: tuple[str, ...] = ()
    left_running: tuple[str, ...] = ()

    def note(self) -> str:
        """What the cycle's sentence adds: units held back (``decide`` gives an acting unit
        no action, so this says a rule was broken) and steps left running."""
        note = ""
        if self.held:
            note += f"; held back {', '.join(self.held)}: steps of an earlier cycle still running"
        if self.left_running:
            note += f"; woken with {', '.join(self.left_running)} still acting: left running"
        return note


class UnitSteps:
    """Runs each unit's steps. Thread-safe; :meth:`run` is called by one cycle at a time
    (the controller's lock)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[str, Future[list[str]]] = {}
        # Steps a run still waits for: their end is that run's to report, not _ended's.
        self._awaited: set[Future[list[str]]] = set()
        self._pool = ThreadPoolExecutor(MAX_UNITS_AT_ONCE, thread_name_prefix="unit-step")

    def acting(self) -> frozenset[str]:
        """Units whose steps are still running."""
        with self._lock:
            # done() turns true before the done callback forgets the unit: ask the future.
            return frozenset(u for u, future in self._running.items() if not future.done())

    def run(
        self,
        by_unit: Mapping[str, Sequence[Action]],
        run_steps: Callable[[Sequence[Action]], list[str]],
        woken: threading.Event | None = None,
    ) -> Ran:
        """Start ``run_steps(steps)`` for each unit (units at once), except for acting
        units; wait for them until they all end or ``woken`` is set.

        Re-raises the first :class:`NotLeader` or :class:`DcsError` of the steps that
        ended while it waited, in the order of ``by_unit``.
        """
        started: list[tuple[str, Future[list[str]]]] = []
        held: list[str] = []
        with self._lock:
            for unit, steps in by_unit.items():
                earlier = self._running.get(unit)
                if earlier is not None and not earlier.done():
                    held.append(unit)
                    continue
                future = self._pool.submit(run_steps, steps)
                self._running[unit] = future
                self._awaited.add(future)
                started.append((unit, future))
        for unit, future in started:
            future.add_done_callback(partial(self._ended, unit))
        futures = [future for _, future in started]
        pending = set(futures)
        while pending and not (woken is not None and woken.is_set()):
            _, pending = wait(pending, timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)
        with self._lock:  # from here on, _ended reports the steps that end
            collected = [future for future in futures if future.done()]
            self._awaited.difference_update(futures)
        outcomes: list[str] = []
        for future in collected:
            outcomes.extend(future.result())  # re-raises NotLeader / DcsError
        running = tuple(unit for unit, future in started if future not in collected)
        return Ran(tuple(outcomes), tuple(held), running)

    def join(self) -> None:
        """Wait until no unit is acting (whatever its steps ended in)."""
        while True:
            with self._lock:
                futures = [f for f in self._running.values() if not f.done()]
            if not futures:
                return
            for future in futures:
                future.exception()  # waits; the outcome was recorded by the step itself

    def _ended(self, unit: str, future: Future[list[str]]) -> None:
        with self._lock:
            if self._running.get(unit) is future:
                del self._running[unit]
            if future in self._awaited:
                return  # the run waiting for it re-raises how it ended: one report
        error = future.exception()
        if isinstance(error, NotLeader | DcsError):
            LOG.warning("steps of %s stopped: %s", unit, error)
        elif error is not None:
            LOG.error("steps of %s failed", unit, exc_info=error)
