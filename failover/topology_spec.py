"""The topology file as written: sites, units, replication, network, timing, policy and
trend settings, each field with its documented default and bounds.

Pure pydantic models, strict and frozen (an unknown field is an error). The validated
:class:`failover.topology.Topology`, with placement and buckets resolved, is built from a
:class:`TopologySpec` by :func:`failover.topology.parse_topology`; import these models
from :mod:`failover.topology`, which re-exports them.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from failover.trend_settings import TrendSettings

DEFAULT_BUCKETS = 1024
DEFAULT_UNIT_COUNT = 8
NAME_PATTERN = r"^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$"


class SiteRole(StrEnum):
    """``active`` sites (city A) serve primaries; ``dr`` is the remote disaster-recovery site."""

    ACTIVE = "active"
    DR = "dr"


class _Strict(BaseModel):
    # NaN and infinities are refused as such ("a finite number"), not by a bound they
    # happen to fail.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


SiteName = Annotated[str, Field(pattern=NAME_PATTERN)]
PositiveSeconds = Annotated[float, Field(gt=0, le=3600)]


class Site(_Strict):
    """A data center. In Kubernetes, one cluster."""

    name: SiteName
    city: SiteName
    role: Annotated[SiteRole, Field(strict=False)]


class UnitSpec(_Strict):
    """A unit as written in the file; omitted fields take the documented defaults."""

    name: Annotated[str, Field(pattern=NAME_PATTERN)]
    buckets: str | None = None
    primary: str | None = None


CommitRule = Literal["any-standby", "all-standbys"]


class Replication(_Strict):
    """How a primary ships its journal and when it acknowledges a write.

    ``commit_rule`` (docs/design.md §2): ``any-standby`` acknowledges a write once it is
    durable locally and on at least one of the unit's two standbys (2 of 3 sites);
    ``all-standbys`` waits for both (3 of 3: any one cut link stops the unit's writes).
    """

    commit_rule: CommitRule = "any-standby"
    ack_timeout_seconds: PositiveSeconds = 1.0
    batch_size: Annotated[int, Field(ge=1, le=10_000)] = 500
    heartbeat_seconds: PositiveSeconds = 0.5
    allow_data_losing_failover: bool = False

    @property
    def acks_needed(self) -> int:
        """Standby acknowledgements a write needs before the client hears 2xx."""
        return 1 if self.commit_rule == "any-standby" else 2


DelayMs = Annotated[float, Field(ge=0, le=10_000)]


class Network(_Strict):
    """One-way delay per link between sites, added by the local platform's link proxies
    so an acknowledgement from the other city costs what it would in life."""

    same_city_delay_ms: DelayMs = 1.0
    cross_city_delay_ms: DelayMs = 15.0


class Timing(_Strict):
    """Detection and lease timing (docs/design.md §4)."""

    probe_interval_seconds: PositiveSeconds = 1.0
    probe_timeout_seconds: PositiveSeconds = 0.5
    failure_rounds: Annotated[int, Field(ge=1, le=100)] = 3
    quorum: Annotated[int, Field(ge=1)] = 2
    primary_lease_ttl_seconds: Annotated[int, Field(ge=2, le=600)] = 4
    controller_lease_ttl_seconds: Annotated[int, Field(ge=2, le=600)] = 3
    fence_margin_seconds: PositiveSeconds = 1.0
    failback_stability_seconds: PositiveSeconds = 60.0


class Policy(_Strict):
    """What the controller may do without a human."""

    remote_dr_auto_promotion: bool = False
    auto_failback: bool = False
    max_failovers_per_unit_per_hour: Annotated[int, Field(ge=1)] = 3
    distinct_approvers: Annotated[int, Field(ge=1, le=5)] = 1
    """How many different approvers (by the name their credential carries) must approve
    a data-losing promotion before it goes ahead; the same person twice counts once."""


class TopologySpec(_Strict):
    """The YAML document as written."""

    name: SiteName = "watertight"
    sites: list[Site]
    buckets: Annotated[int, Field(ge=1, le=1 << 20)] = DEFAULT_BUCKETS
    units: list[UnitSpec] | Annotated[int, Field(ge=1, le=1024)] = DEFAULT_UNIT_COUNT
    replication: Replication = Replication()
    network: Network = Network()
    timing: Timing = Timing()
    policy: Policy = Policy()
    trends: TrendSettings = TrendSettings()

    @model_validator(mode="before")
    @classmethod
    def _units_may_be_plain_names(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("units"), list):
            data = dict(data)
            data["units"] = [{"name": u} if isinstance(u, str) else u for u in data["units"]]
        return data
