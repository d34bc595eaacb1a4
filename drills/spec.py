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
The steps themselves (the method's and the rollbacks' vocabulary) are :mod:`drills.steps`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    ValidationError,
    model_validator,
)

from drills.steps import (
    ACTION_NAMES,
    LEADER_SITE,
    Action,
    Count,
    PositiveSeconds,
    Ratio,
    Seconds,
    Step,
    Strict,
)
from failover.input_file import InputFileError, field_path, read_yaml_document
from failover.topology import NAME_PATTERN, Topology
from failover.trend_settings import TrendSettings

LIBRARY_DIR = Path(__file__).resolve().parent / "library"


class DrillSpecError(InputFileError):
    """A drill spec that cannot be run. ``str()`` reads ``file: field.path: reason``."""


# --- load -------------------------------------------------------------------------------


class Mix(Strict):
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


class RetryBudgetSpec(Strict):
    """Over the last ``window_seconds``: at most ``min_per_second`` retries a second plus
    ``ratio`` retries per first attempt (gRPC's retry throttling and Finagle's default:
    20 % and 10 a second)."""

    ratio: Annotated[float, Field(ge=0, le=10)] = 0.2
    min_per_second: Annotated[float, Field(ge=0, le=10_000)] = 10.0
    window_seconds: PositiveSeconds = 10.0


class Load(Strict):
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
    retry_budget: RetryBudgetSpec = Field(default_factory=RetryBudgetSpec)
    """How many retries all the clients together may add to the load
    (:mod:`drills.retry_budget`): the patience above bounds one write's retries, this
    bounds the retries of all writes at once."""


# --- steady state and guard rails -------------------------------------------------------


class ErrorRateProbe(Strict):
    """At most ``max`` of the attempts sent in the last ``window_seconds`` failed."""

    probe: Literal["error-rate"]
    max: Ratio
    window_seconds: PositiveSeconds = 5.0


class LatencyProbe(Strict):
    """p99 latency of the successful attempts in the last ``window_seconds`` ≤ ``max_ms``."""

    probe: Literal["p99-latency"]
    max_ms: Annotated[float, Field(gt=0)]
    window_seconds: PositiveSeconds = 5.0


class AllUnitsServingProbe(Strict):
    """Every unit the load touches acknowledged a write in the last ``window_seconds``."""

    probe: Literal["all-units-serving"]
    window_seconds: PositiveSeconds = 5.0


Probe = Annotated[
    ErrorRateProbe | LatencyProbe | AllUnitsServingProbe, Field(discriminator="probe")
]


class AbortIf(Strict):
    """Guard rail: abort when the error rate over the last ``for_seconds`` exceeds a bound."""

    error_rate_above: Ratio
    for_seconds: PositiveSeconds


PROBE_NAMES = ("error-rate", "p99-latency", "all-units-serving")


# --- expectations -----------------------------------------------------------------------


class FailoverCount(Strict):
    """Inclusive bounds on the number of promotions (failovers and switchovers alike)."""

    min: Count = 0
    max: Count | None = None

    @model_validator(mode="after")
    def _ordered(self) -> FailoverCount:
        if self.max is not None and self.max < self.min:
            raise ValueError(f"max ({self.max}) is below min ({self.min})")
        return self


class TrendWarningExpect(Strict):
    """The trend watch must warn for ``unit`` at most ``max_lead_seconds`` after the
    drill's fault, while the controllers' view of the unit stayed healthy (no site
    verdict for its site, no move of it: :mod:`drills.trend_lead`)."""

    unit: str
    max_lead_seconds: PositiveSeconds


class Expect(Strict):
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
    trend_warning: TrendWarningExpect | None = None

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


class DrillSpec(Strict):
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
    trends: dict[str, float] | None = None
    """Settings of the topology's ``trends`` section this drill needs (e.g. a short
    warm-up): merged over the topology's when the runner starts a fresh platform."""

    @model_validator(mode="after")
    def _trend_settings(self) -> DrillSpec:
        if self.trends is not None:
            try:
                TrendSettings.model_validate(self.trends)
            except ValidationError as exc:
                first = exc.errors()[0]
                where = "".join(f".{part}" for part in first["loc"])
                reason = str(first["msg"]).removeprefix("Value error, ")
                raise ValueError(f"trends{where}: {reason}") from None
        return self

    @property
    def faults(self) -> list[Step]:
        return [step for step in self.method if step.is_fault]

    def at_rate(self, rate_per_second: float) -> DrillSpec:
        """This drill offering ``rate_per_second`` writes instead of its file's rate (the
        same customers, duration and mix); validated as the file's rate would be, so a
        bad rate raises :class:`pydantic.ValidationError`. The report states the rate the
        drill ran at."""
        load = Load.model_validate({**self.load.model_dump(), "rate_per_second": rate_per_second})
        return self.model_copy(update={"load": load})


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
    _check_room_after_recovery(spec, source)


def _check_room_after_recovery(spec: DrillSpec, source: str) -> None:
    """The steady state after the method is judged over the load's last window: the load
    must outlast the last fault plus the RTO bound plus that window, or a recovery within
    its bound still fails the steady state (the window would hold the outage)."""
    bound = spec.expect.rto_seconds_max
    faults = [step.at for step in spec.faults if step.at is not None]
    if bound is None or not faults or not spec.steady_state:
        return
    window = max(probe.window_seconds for probe in spec.steady_state)
    needed = max(faults) + bound + window
    if spec.load.duration_seconds < needed:
        reason = (
            f"{spec.load.duration_seconds:g} s ends before the steady state can be judged after "
            f"a recovery within the RTO bound: last fault at {max(faults):g} s + "
            f"rto_seconds_max {bound:g} s + a {window:g} s window = {needed:g} s"
        )
        raise DrillSpecError(source, "load.duration_seconds", reason)


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
    if spec.expect.trend_warning is not None:
        _known_unit(spec.expect.trend_warning.unit, topology, source, "expect.trend_warning.unit")


def _sites_of(step: Step) -> Iterable[tuple[str, str]]:
    for key in ("site", "a", "b", "from", "to", "survivor"):
        attr = {"from": "from_site", "to": "to_site"}.get(key, key)
        value = getattr(step, attr, None)
        if isinstance(value, str):
            yield key, value
    for j, site in enumerate(getattr(step, "sites", None) or []):
        yield f"sites[{j}]", site


def _units_of(step: Step) -> Iterable[tuple[str, str]]:
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
