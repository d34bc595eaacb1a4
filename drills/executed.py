"""An action of a drill as it really ran: the runner's record of each fault, repair and
operator move, on the drill clock (seconds from the drill start, client clock).

The runner records one :class:`ExecutedAction` per step it ran (method and rollback);
the measurements read the faults' times from them (:mod:`drills.measure`), the report lists
them and the timeline marks them. Frozen; no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from drills.steps import FAULT_ACTIONS, REPAIR_ACTIONS


@dataclass(frozen=True, slots=True)
class ExecutedAction:
    """An action as it really ran: ``command`` is its CLI form with ``$leader`` resolved."""

    action: str
    command: str
    started_at: float
    finished_at: float
    phase: Literal["method", "rollback"] = "method"
    ok: bool = True
    detail: str = ""
    took_effect_at: float | None = None
    """Drill-clock time the platform says the action took effect, when it says so."""

    @property
    def effective_at(self) -> float:
        """When the action took effect: the platform's time if known, else its start."""
        return self.started_at if self.took_effect_at is None else self.took_effect_at

    @property
    def is_fault(self) -> bool:
        return self.action in FAULT_ACTIONS

    @property
    def is_repair(self) -> bool:
        return self.action in REPAIR_ACTIONS
