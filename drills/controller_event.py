"""The minimal shape of a controller event that the drills read (docs/drills.md §2).

:mod:`drills.controller` converts the controllers' ``/v1/events`` into
:class:`ControllerEvent` on the drill clock; the measurements read only the kinds
:data:`SITE_DOWN` (detection) and :data:`PROMOTED` (failovers), the trend watch and the
report read the rest. Frozen; no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

SITE_DOWN = "site-down"
PROMOTED = "promoted"


@dataclass(frozen=True, slots=True)
class ControllerEvent:
    """The minimal shape of a controller event that measurements read.

    ``at`` is seconds from the drill start on the client clock (the runner converts).
    ``kind`` ``"site-down"`` = a site declared down by quorum (needs ``site``);
    ``"promoted"`` = a unit's standby promoted (needs ``unit``, ``site`` is the new
    primary, ``epoch`` the new epoch). Other kinds are kept for the report and ignored.
    """

    at: float
    kind: str
    site: str | None = None
    unit: str | None = None
    epoch: int | None = None
    detail: str = ""
