"""The drill spec: what load to run, what to do when, and what must hold afterwards.

A drill file is YAML, shaped like a chaostoolkit experiment (steady state + method +
rollbacks), plus the load and the expectations the report is judged against::

    title: Production site outage
    load: {rate_per_second: 50, customers: 400, duration_seconds: 40,
           mix: {purchase: 0.8, payment: 0.15, refund: 0.05}}
    steady_state:
      - {probe: error-rate, max: 0.01, window_seconds: 5}
    method:
      - {at: 10, action: site-down, site: production}
    expect: {rto_seconds_max: 8, survivors_interruption_seconds_max: 1,
             rpo_lost_acknowledged: 0, failovers: {min: 4, max: 4}}
    rollbacks:
      - {action: heal}

Pure: no I/O except :func:`load_spec`, which reads one YAML file. Errors name the file,
the field path and the reason, like the topology's:
``production-outage.yaml: method[0].site: unknown site 'prod'; known sites: ...``.

Site fields may say ``$leader``: the runner resolves it, once, at the first action that
names it, to the site of the controller leader at that moment (the leader-site drill).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from failover.input_file import InputFileError, field_path, read_yaml_document
from failover.topology import NAME_PATTERN, Topology

LEADER_SITE = "$leader"
LIBRARY_DIR = Path(__file__).resolve().parent / "library"
FAULT_ACTIONS = frozenset({"site-down", "site-hang", "partition", "slow", "unit-crash"})
PLANNED_ACTIONS = frozenset({"switchover", "failback"})


class DrillSpecError(InputFileError):
    """A drill spec that cannot be run. ``str()`` reads ``file: field.path: reason``."""


class _Strict(BaseModel):
    # NaN and infinities are refused as such ("a finite number"), not by a bound they
    # happen to fail (or, where a field has only a lower bound, accepted).
    model_config = ConfigDict(
        extra="forbid", frozen=True, strict=True, populate_by_name=True, allow_inf_nan=False
    )


Seconds = Annotated[float, Field(ge=0, le=3600)]
PositiveSeconds = Annotated[float, Field(gt=0, le=3600)]
Ratio = Annotated[float, Field(ge=0, le=1)]
Count = Annotated[int, Field(ge=0)]


# --- load -------------------------------------------------------------------------------


class Mix(_Strict):
    """Shares of each transaction type; they must sum to 1."""

    purchase: Ratio = 0.0
    payment: Ratio = 0.0
    refund: Ratio = 0.0

    @model_validator(mode="after")
    def _sums_to_one(self) -> Mix:
        total = self.purchase + self.payment + self.refund
        if not math.isclose(total, 1.0, abs_tol=1e-6):
            raise ValueError(f"the shares must sum to 1, got {total:g}")
        return self


class Load(_Strict):
    """An open-loop load: ``rate_per_second`` new writes, spread over ``customers``
    (evenly over the units: each unit gets ``customers / units`` of them, rounded up, and
    the same share of the writes — :func:`drills.loadgen.plan_write`)."""

    rate_per_second: Annotated[float, Field(gt=0, le=10_000)]
    customers: Annotated[int, Field(ge=1, le=1_000_000)]
    duration_seconds: PositiveSeconds
    mix: Mix
    request_timeout_seconds: Annotated[float, Field(gt=0, le=60)] = 5.0
    """A client's patience for one attempt. Above the router's own budget (upstream read
    timeout of sync timeout + 1 s, then one re-routed retry): with 2 s, equal to that
    timeout, a request caught in flight by a failover failed at the client exactly when
    the router was about to re-route it."""
    give_up_after_seconds: Annotated[float, Field(gt=0, le=600)] = 10.0
    """How long a client keeps retrying one write (same key) after its first send before
    it gives up, like a card terminal's authorization timeout. Without a limit every
    write of an outage keeps retrying, and the retries alone outgrow what the sites can
    serve once they are back (a retry storm that keeps them down)."""


# --- steady state and guard rails -------------------------------------------------------


class ErrorRateProbe(_Strict):
    """At most ``max`` of the attempts sent in the last ``window_seconds`` failed."""

    probe: Literal["error-rate"]
    max: Ratio
    window_seconds: PositiveSeconds = 5.0


class LatencyProbe(_Strict):
    """p99 latency of the successful attempts in the last ``window_seconds`` ≤ ``max_ms``."""

    probe: Literal["p99-latency"]
    max_ms: Annotated[float, Field(gt=0)]
    window_seconds: PositiveSeconds = 5.0


class AllUnitsServingProbe(_Strict):
    """Every unit the load touches acknowledged a write in the last ``window_seconds``."""

    probe: Literal["all-units-serving"]
    window_seconds: PositiveSeconds = 5.0


Probe = Annotated[
    ErrorRateProbe | LatencyProbe | AllUnitsServingProbe, Field(discriminator="probe")
]


class AbortIf(_Strict):
    """Guard rail: abort when the error rate over the last ``for_seconds`` exceeds a bound."""

    error_rate_above: Ratio
    for_seconds: PositiveSeconds


# --- actions ----------------------------------------------------------------------------


class _Action(_Strict):
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
    action: Literal["site-down"]
    site: str

    def describe(self) -> str:
        return f"site-down {self.site}"


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
    SiteDown | SiteUp | SiteHang | Partition | Slow | UnitCrash | Heal | Switchover | Failover
    | Failback | Approve | DeclareDisaster | WaitUntil,
    Field(discriminator="action"),
]  # fmt: skip
ACTION_NAMES = (
    "site-down", "site-up", "site-hang", "partition", "slow", "unit-crash", "heal",
    "switchover", "failover", "failback", "approve", "declare-disaster", "wait-until",
)  # fmt: skip
PROBE_NAMES = ("error-rate", "p99-latency", "all-units-serving")


# --- expectations -----------------------------------------------------------------------


class FailoverCount(_Strict):
    """Inclusive bounds on the number of promotions (failovers and switchovers alike)."""

    min: Count = 0
    max: Count | None = None

    @model_validator(mode="after")
    def _ordered(self) -> FailoverCount:
        if self.max is not None and self.max < self.min:
            raise ValueError(f"max ({self.max}) is below min ({self.min})")
        return self


class Expect(_Strict):
    """What must hold for a pass. Omitted keys are not judged, except the safe defaults:
    no lost acknowledged write, no split brain, no double posting, every unit recovers.

    ``rpo_lost_acknowledged: reported`` measures the loss without judging it (a drill
    whose data-losing promotion is approved). ``only_units_move`` lists the only units
    allowed to change primary. ``errors_outside_drain_max`` bounds failed attempts sent
    outside ``[start, end + drain_window_seconds]`` of each switchover and failback.

    Write interruptions (:mod:`drills.measure`): ``survivors_interruption_seconds_max``
    bounds the longest interruption of any unit that did not move (the watertight
    compartments of a site outage); ``unit_interruption_seconds_max`` bounds it over every
    unit, so it is only for drills that expect no failover (a moved unit is interrupted
    by its failover). Zero epoch changes need no key of their own: ``failovers`` counts
    every epoch change clients saw, so ``failovers: {max: 0}`` already forbids them.
    """

    rto_seconds_max: PositiveSeconds | None = None
    survivors_interruption_seconds_max: Seconds | None = None
    unit_interruption_seconds_max: Seconds | None = None
    rpo_lost_acknowledged: Count | Literal["reported"] = 0
    split_brain: Literal[False] = False
    double_posting: Literal[False] = False
    failovers: FailoverCount | None = None
    false_failovers: Count | None = None
    only_units_move: list[str] | None = None
    errors_outside_drain_max: Count | None = None
    drain_window_seconds: Seconds = 5.0
    all_units_recover: bool = True

    @model_validator(mode="after")
    def _consistent(self) -> Expect:
        expects_some = self.failovers is not None and self.failovers.min > 0
        if self.false_failovers is not None and expects_some:
            raise ValueError("false_failovers is for drills that expect no failover")
        if self.unit_interruption_seconds_max is not None and expects_some:
            raise ValueError(
                "unit_interruption_seconds_max bounds every unit, moved ones too; in a drill "
                "that expects failovers bound survivors_interruption_seconds_max and "
                "rto_seconds_max instead"
            )
        return self

    @property
    def expects_no_failover(self) -> bool:
        """A drill expects none when it says so through either key."""
        none_by_count = self.failovers is not None and self.failovers.max == 0
        return self.false_failovers is not None or none_by_count


# --- the drill --------------------------------------------------------------------------


class DrillSpec(_Strict):
    """A validated drill. ``name`` defaults to the file name without ``.yaml``."""

    name: Annotated[str, Field(pattern=NAME_PATTERN)] | None = None
    title: Annotated[str, Field(min_length=1, max_length=200)]
    description: str = ""
    load: Load
    steady_state: list[Probe] = []
    method: list[Action] = []
    expect: Expect = Expect()
    rollbacks: list[Action] = []
    abort_if: list[AbortIf] = []

    @property
    def faults(self) -> list[_Action]:
        return [step for step in self.method if step.is_fault]


def load_spec(path: str | Path, topology: Topology | None = None) -> DrillSpec:
    """Read and validate a drill file; with ``topology``, check every site and unit name.

    Raises :class:`DrillSpecError` naming the file, the field and the reason.
    """
    source = str(path)
    spec = parse_spec(read_yaml_document(path, DrillSpecError), source=source, topology=topology)
    if spec.name is None:
        # The name becomes a directory under reports/drills: a file called "...yaml"
        # would otherwise name its drill "..", and ".yaml" the empty string.
        name = Path(path).name.removesuffix(".yaml")
        if not re.fullmatch(NAME_PATTERN, name):
            reason = (
                f"the file name gives no drill name ({name!r} is not lowercase letters, "
                "digits and '-'); add 'name:' to the file"
            )
            raise DrillSpecError(source, "name", reason)
        spec = spec.model_copy(update={"name": name})
    return spec


def parse_spec(
    document: object, source: str = "<drill>", topology: Topology | None = None
) -> DrillSpec:
    """Validate a parsed YAML document (see the module docstring for the shape)."""
    if not isinstance(document, dict):
        raise DrillSpecError(source, "", "the document must be a mapping with 'title' and 'load'")
    try:
        spec = DrillSpec.model_validate(document)
    except ValidationError as exc:
        field, reason = _describe_error(exc.errors()[0])
        raise DrillSpecError(source, field, reason) from exc
    _check_schedule(spec, source)
    if topology is not None:
        check_names(spec, topology, source)
    return spec


def library() -> dict[str, Path]:
    """The standard drills shipped in ``drills/library``, by name, sorted."""
    return {p.name.removesuffix(".yaml"): p for p in sorted(LIBRARY_DIR.glob("*.yaml"))}


def _describe_error(error: Any) -> tuple[str, str]:
    loc: Sequence[int | str] = error["loc"]
    kind = error["type"]
    field = _field_path(loc)
    if kind == "union_tag_invalid":
        known = ACTION_NAMES if "action" in error["ctx"]["discriminator"] else PROBE_NAMES
        what = "action" if known is ACTION_NAMES else "probe"
        tag = error["ctx"]["tag"]
        return f"{field}.{what}", f"unknown {what} {tag!r}; known: {', '.join(known)}"
    if kind == "union_tag_not_found":
        what = "action" if "action" in error["ctx"]["discriminator"] else "probe"
        return field, f"missing '{what}'"
    if field in _FRIENDLY:
        return field, _FRIENDLY[field]
    return field, str(error["msg"]).removeprefix("Value error, ")


_SECONDS_BOUND = "must be a number of seconds (0 to 3600)"
_FRIENDLY = {
    "expect.rpo_lost_acknowledged": "must be a number of writes (0 or more) or 'reported'",
    "expect.survivors_interruption_seconds_max": _SECONDS_BOUND,
    "expect.unit_interruption_seconds_max": _SECONDS_BOUND,
    "expect.epoch_changes": "not a key: 'failovers' counts every epoch change clients saw; "
    "bound it with failovers: {max: N}",
    "expect.split_brain": "split brain is never acceptable; leave it false",
    "expect.double_posting": "double posting is never acceptable; leave it false",
}


# pydantic's labels for the union branches it tried (not fields).
_BRANCHES = frozenset({"int", "str", "float", "bool", "list", "none"})
_BRANCH_LABELS = _BRANCHES | frozenset(ACTION_NAMES) | frozenset(PROBE_NAMES)


def _field_path(loc: Sequence[int | str]) -> str:
    return field_path(loc, _BRANCH_LABELS)


def _check_schedule(spec: DrillSpec, source: str) -> None:
    previous = 0.0
    for i, step in enumerate(spec.method):
        field = f"method[{i}].at"
        if step.at is None:
            raise DrillSpecError(source, field, "every method step needs an offset 'at' (seconds)")
        if step.at < previous:
            reason = f"steps must be in time order; {step.at:g} s comes after {previous:g} s"
            raise DrillSpecError(source, field, reason)
        if step.at > spec.load.duration_seconds:
            reason = f"{step.at:g} s is after the load ends ({spec.load.duration_seconds:g} s)"
            raise DrillSpecError(source, field, reason)
        previous = step.at
    for i, step in enumerate(spec.rollbacks):
        if step.at is not None:
            raise DrillSpecError(
                source, f"rollbacks[{i}].at", "rollbacks run in order, right away; remove 'at'"
            )


def check_names(spec: DrillSpec, topology: Topology, source: str = "<drill>") -> None:
    """Every site and unit a drill names must exist in ``topology`` (``$leader`` aside)."""
    for section in ("method", "rollbacks"):
        for i, step in enumerate(getattr(spec, section)):
            prefix = f"{section}[{i}]"
            for key, site in _sites_of(step):
                _known_site(site, topology, source, f"{prefix}.{key}")
            for key, unit in _units_of(step):
                _known_unit(unit, topology, source, f"{prefix}.{key}")
    for j, unit in enumerate(spec.expect.only_units_move or []):
        _known_unit(unit, topology, source, f"expect.only_units_move[{j}]")


def _sites_of(step: _Action) -> Iterable[tuple[str, str]]:
    for key in ("site", "a", "b", "from", "to", "survivor"):
        attr = {"from": "from_site", "to": "to_site"}.get(key, key)
        value = getattr(step, attr, None)
        if isinstance(value, str):
            yield key, value


def _units_of(step: _Action) -> Iterable[tuple[str, str]]:
    unit = getattr(step, "unit", None)
    if isinstance(unit, str):
        yield "unit", unit
    for j, name in enumerate(getattr(step, "units", None) or []):
        yield f"units[{j}]", name


def _known_site(site: str, topology: Topology, source: str, field: str) -> None:
    if site != LEADER_SITE and site not in topology.site_names:
        known = ", ".join(topology.site_names)
        raise DrillSpecError(source, field, f"unknown site {site!r}; known sites: {known}")


def _known_unit(unit: str, topology: Topology, source: str, field: str) -> None:
    if unit not in topology.units:
        known = ", ".join(topology.units)
        raise DrillSpecError(source, field, f"unknown unit {unit!r}; known units: {known}")
