"""The snapshot and its site verdicts, computed once per cycle and shared by the rules."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from failover.quorum import InstanceVerdict, SiteVerdict, instance_verdict
from failover.snapshot import Snapshot
from failover.topology import Topology


@dataclass(frozen=True)
class Context:
    snapshot: Snapshot
    sites: Mapping[str, SiteVerdict]

    @property
    def topology(self) -> Topology:
        return self.snapshot.topology

    def instance(self, unit: str, site: str) -> InstanceVerdict:
        s = self.snapshot
        return instance_verdict(unit, site, s.observer_reports, s.now, s.topology)


@dataclass(frozen=True, slots=True)
class Cause:
    """Why a unit needs a failover. ``confirmed``: by a quorum, so the policy may act."""

    confirmed: bool
    text: str
