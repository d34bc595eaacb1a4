"""The method's vocabulary: every step a drill can take (faults, repairs, planned moves,
approvals, waits), as strict pydantic models discriminated by ``action``.

Pure, like :mod:`drills.spec`, which assembles these into a drill (its load, steady
state and expectations) and shares :class:`Strict` and the number types defined here.
Site fields may say :data:`LEADER_SITE` (``$leader``), resolved by the runner.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

LEADER_SITE = "$leader"
FAULT_ACTIONS = frozenset(
    {"site-down", "site-hang", "partition", "slow", "unit-crash", "gray-unit"}
)
PLANNED_ACTIONS = frozenset({"switchover", "failback"})
REPAIR_ACTIONS = frozenset({"site-up", "heal"})
"""Actions that end a fault (``site-up``, ``heal``)."""


class Strict(BaseModel):
    """The base of every drill-file model: unknown keys, coercions and NaN refused."""

    # NaN and infinities are refused as such ("a finite number"), not by a bound they
    # happen to fail (or, where a field has only a lower bound, accepted).
    model_config = ConfigDict(
        extra="forbid", frozen=True, strict=True, populate_by_name=True, allow_inf_nan=False
    )


Seconds = Annotated[float, Field(ge=0, le=3600)]
PositiveSeconds = Annotated[float, Field(gt=0, le=3600)]
Ratio = Annotated[float, Field(ge=0, le=1)]
Count = Annotated[int, Field(ge=0)]


# --- actions ----------------------------------------------------------------------------


class _Action(Strict):
    """Common to every action. ``at`` is the offset from the drill start, in seconds.

    Method steps need ``at``; rollbacks must not have one (they run in order, at once).
    """

    at: Seconds | None = None

    @property
    def name(self) -> str:
        return str(getattr(self, "action", ""))

    @property
    def is_fault(self) -> bool:
        """Faults start the RTO clock; repairs (``heal``, ``site-up``) and operator actions
        do not."""
        return self.name in FAULT_ACTIONS

    def describe(self) -> str:
        """The action as a ``watertight`` command line, e.g. ``slow same-city --ms 100``."""
        return self.name


Step = _Action
"""Any method or rollback step (the common base of every action model)."""


class SiteDown(_Action):
    """Lose ``site``, or every one of ``sites`` at the same instant (city A lost: two
    separate steps would lose the second site only once the first is down, and the
    controller would rightly move the first site's units into it meanwhile)."""

    action: Literal["site-down"]
    site: str | None = None
    sites: Annotated[list[str] | None, Field(min_length=2)] = None

    @model_validator(mode="after")
    def _one_or_several(self) -> SiteDown:
        if (self.site is None) == (self.sites is None):
            raise ValueError("give either 'site' (one site) or 'sites' (several at once)")
        if self.sites is not None:
            if LEADER_SITE in self.sites:
                raise ValueError(f"'sites' cannot name {LEADER_SITE}; use 'site' for it")
            if len(set(self.sites)) != len(self.sites):
                raise ValueError("'sites' names a site twice")
        return self

    @property
    def lost(self) -> tuple[str, ...]:
        """Every site this step takes down."""
        return tuple(self.sites) if self.sites is not None else (str(self.site),)

    def describe(self) -> str:
        return "site-down " + " ".join(self.lost)


class SiteUp(_Action):
    action: Literal["site-up"]
    site: str

    def describe(self) -> str:
        return f"site-up {self.site}"


class SiteHang(_Action):
    action: Literal["site-hang"]
    site: str

    def describe(self) -> str:
        return f"site-hang {self.site}"


class Partition(_Action):
    action: Literal["partition"]
    a: str
    b: str

    @field_validator("b")
    @classmethod
    def _two_sites(cls, b: str, info: ValidationInfo) -> str:
        if b == info.data.get("a"):
            raise ValueError(f"a partition needs two different sites, got {b!r} twice")
        return b

    def describe(self) -> str:
        return f"partition {self.a} {self.b}"


class Slow(_Action):
    action: Literal["slow"]
    site: str
    ms: Annotated[int, Field(gt=0, le=60_000)]

    def describe(self) -> str:
        return f"slow {self.site} --ms {self.ms}"


class UnitCrash(_Action):
    action: Literal["unit-crash"]
    unit: str
    site: str

    def describe(self) -> str:
        return f"unit-crash {self.unit} --site {self.site}"


class GrayUnit(_Action):
    """A gray failure inside one unit instance: every new write declined (``decline-all``)
    or delayed by ``delay_ms`` (``slow``, default 500) while its probes stay green. A
    fault (it starts the drill's clock) that should move nothing: only the trend watch
    can see it. ``heal`` clears it."""

    action: Literal["gray-unit"]
    unit: str
    site: str
    mode: Literal["decline-all", "slow"]
    delay_ms: Annotated[int, Field(gt=0, le=10_000)] | None = None

    @field_validator("delay_ms")
    @classmethod
    def _delay_only_when_slow(cls, delay_ms: int | None, info: ValidationInfo) -> int | None:
        if delay_ms is not None and info.data.get("mode") != "slow":
            raise ValueError("delay_ms is only for mode 'slow'")
        return delay_ms

    def describe(self) -> str:
        delay = f" --delay-ms {self.delay_ms}" if self.delay_ms is not None else ""
        return f"gray-unit {self.unit} --site {self.site} --mode {self.mode}{delay}"


class Heal(_Action):
    action: Literal["heal"]


class _Move(_Action):
    """Operator moves; ``from``/``to``/``units`` are passed to the controller as given."""

    from_site: str | None = Field(default=None, alias="from")
    to_site: str | None = Field(default=None, alias="to")
    units: list[str] | None = None

    def describe(self) -> str:
        parts = [self.name]
        if self.from_site:
            parts.append(f"--from {self.from_site}")
        if self.to_site:
            parts.append(f"--to {self.to_site}")
        if self.units:
            parts.append("--units " + ",".join(self.units))
        return " ".join(parts)


class Switchover(_Move):
    """Planned, zero-loss move: drain, catch up, move (docs/design.md §5)."""

    action: Literal["switchover"]


class Failover(_Move):
    """Operator-forced failover (e.g. to remote-dr when city A is lost)."""

    action: Literal["failover"]


class Failback(_Move):
    """Return units to their home placement."""

    action: Literal["failback"]


class Approve(_Action):
    """Approve pending approvals (all, or those of ``units``); ``accept_loss`` must be true
    to approve a data-losing promotion (docs/design.md §3.2)."""

    action: Literal["approve"]
    accept_loss: bool = False
    reason: str = "approved by drill"
    units: list[str] | None = None

    def describe(self) -> str:
        return "approve --accept-loss" if self.accept_loss else "approve"


class DeclareDisaster(_Action):
    """The operator declares the sites other than ``survivor`` lost: etcd's quorum is
    rebuilt on ``survivor`` (``watertight disaster declare``; docs/controller.md §12)."""

    action: Literal["declare-disaster"]
    survivor: str

    def describe(self) -> str:
        return f"declare-disaster --survivor {self.survivor}"


WaitCondition = Literal[
    "approval-pending", "approval-pending-every-unit", "site-declared-down", "site-declared-up",
    "all-units-serving",
    "placement-restored",
]  # fmt: skip
SITE_CONDITIONS = frozenset({"site-declared-down", "site-declared-up"})


class WaitUntil(_Action):
    """Block until ``condition`` holds; past ``timeout_seconds`` the drill is aborted."""

    action: Literal["wait-until"]
    condition: WaitCondition
    timeout_seconds: Annotated[float, Field(gt=0, le=600)]
    site: Annotated[str | None, Field(validate_default=True)] = None

    @field_validator("site")
    @classmethod
    def _site_when_needed(cls, site: str | None, info: ValidationInfo) -> str | None:
        condition = info.data.get("condition")
        if (condition in SITE_CONDITIONS) != (site is not None):
            need = "needs a" if condition in SITE_CONDITIONS else "takes no"
            raise ValueError(f"condition {condition!r} {need} 'site'")
        return site

    def describe(self) -> str:
        target = f" {self.site}" if self.site else ""
        return f"wait-until {self.condition}{target} (timeout {self.timeout_seconds:g} s)"


Action = Annotated[
    SiteDown | SiteUp | SiteHang | Partition | Slow | UnitCrash | GrayUnit | Heal | Switchover
    | Failover | Failback | Approve | DeclareDisaster | WaitUntil,
    Field(discriminator="action"),
]  # fmt: skip
ACTION_NAMES = (
    "site-down", "site-up", "site-hang", "partition", "slow", "unit-crash", "gray-unit", "heal",
    "switchover", "failover", "failback", "approve", "declare-disaster", "wait-until",
)  # fmt: skip
