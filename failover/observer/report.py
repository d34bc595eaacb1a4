"""The JSON an observer publishes at ``observers/<site>``, and back.

Times in the stored report are Unix seconds (wall clock): reports cross processes. The
controller's snapshot builder converts them to its own clock. Besides the failure
counters of :class:`~failover.snapshot.ObserverReport`, a report carries what the
observer saw of each unit (``units``: role, epoch, last LSN per site) and, for each
primary it reached, the highest LSN that primary reported durable by the commit rule
(``acknowledged``): the controller's acknowledged-LSN high-water mark comes from there.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from failover.dcs.codec import canonical_json
from failover.snapshot import ObserverReport


@dataclass(frozen=True)
class PublishedReport:
    """A report as stored: counters, wall-clock time, and what was seen."""

    observer: str
    reported_at: float
    site_failures: Mapping[str, int]
    instance_failures: Mapping[tuple[str, str], int]
    units: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    acknowledged: Mapping[str, int] = field(default_factory=dict)

    def encode(self) -> str:
        return canonical_json(
            {
                "observer": self.observer,
                "reported_at": self.reported_at,
                "site_failures": dict(self.site_failures),
                "instance_failures": {
                    f"{u}/{s}": n for (u, s), n in self.instance_failures.items()
                },
                "units": {u: dict(v) for u, v in self.units.items()},
                "acknowledged": dict(self.acknowledged),
            }
        )

    @classmethod
    def decode(cls, value: str) -> PublishedReport:
        """Raises ``ValueError`` on anything malformed."""
        try:
            data = json.loads(value)
            failures = {
                tuple(key.split("/", 1)): int(n) for key, n in data["instance_failures"].items()
            }
            return cls(
                observer=str(data["observer"]),
                reported_at=float(data["reported_at"]),
                site_failures={str(s): int(n) for s, n in data["site_failures"].items()},
                instance_failures={(k[0], k[1]): n for k, n in failures.items()},
                units=dict(data.get("units", {})),
                acknowledged={str(u): int(n) for u, n in data.get("acknowledged", {}).items()},
            )
        except (KeyError, TypeError, AttributeError, IndexError) as exc:
            raise ValueError(f"malformed observer report: {exc}") from exc

    def as_report(self, reported_at: float) -> ObserverReport:
        """The pure core's view, with ``reported_at`` already on the snapshot's clock."""
        return ObserverReport(
            observer=self.observer,
            reported_at=reported_at,
            site_failures=dict(self.site_failures),
            instance_failures=dict(self.instance_failures),
        )
