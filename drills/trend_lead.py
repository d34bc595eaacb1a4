"""The gray-failure drill's judgement: did the trend watch warn for the grayed unit, how
long after the fault, and were the unit's probes green meanwhile?

Pure, from the controller events the runner collected (:class:`ControllerEvent`, on the
drill clock) and the drill's fault time:

- **warning** — the first ``trend-warning`` event naming the unit at or after the fault
  (a site's aggregate warning names no unit and does not count);
- **lead time** — that event's time − the fault time: how long the unit went wrong
  before anyone was told;
- **probes green** — measured, not assumed: the controllers record a ``site-verdict``
  event whenever a site's verdict leaves ``up`` (a quorum of observers probing the
  site's instances), ``site-down`` when it is declared down, and an event naming the
  unit for every step of a move (``promoting``, ``promoted``, ``approval-requested``,
  ...). Any of those for the unit's site (named by the warning) or for the unit between
  the fault and the warning is an **alarm**: the probes were not green. Events of the
  trend watch itself (``trend-warning``, ``trend-cleared``) and the controller's
  ``decision`` sentences are not alarms.

Without a warning there is no lead time and the expectation fails, whatever else held:
a gray drill in which the trend watch saw nothing has caught nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from drills.controller_event import ControllerEvent
from drills.expectations import ExpectationResult, JsonScalar
from drills.spec import TrendWarningExpect

WARNING = "trend-warning"
SITE_ALARMS = frozenset({"site-verdict", "site-down"})
NOT_ALARMS = frozenset({WARNING, "trend-cleared", "decision"})


@dataclass(frozen=True, slots=True)
class TrendLead:
    """What the events say about one unit's gray fault (see the module docstring)."""

    unit: str
    fault_at: float | None
    warned_at: float | None
    site: str | None
    reason: str
    alarms: tuple[str, ...]

    @property
    def lead_seconds(self) -> float | None:
        if self.warned_at is None or self.fault_at is None:
            return None
        return round(self.warned_at - self.fault_at, 3)

    @property
    def probes_green(self) -> bool:
        """No alarm between the fault and the warning (or the end, without a warning)."""
        return not self.alarms


def trend_lead(events: Sequence[ControllerEvent], fault_at: float | None, unit: str) -> TrendLead:
    """Judge ``events`` for ``unit``'s gray fault injected at ``fault_at`` (drill clock;
    ``None``: the drill injected no fault, so nothing can be led)."""
    if fault_at is None:
        return TrendLead(unit, None, None, None, "", ())
    after = sorted((e for e in events if e.at >= fault_at), key=lambda e: e.at)
    warning = next((e for e in after if e.kind == WARNING and e.unit == unit), None)
    until = warning.at if warning is not None else float("inf")
    site = warning.site if warning is not None else None
    alarms = tuple(
        f"{e.at:.3f} s {e.kind} {e.unit or e.site}: {e.detail}".rstrip(": ")
        for e in after
        if e.at <= until and e.kind not in NOT_ALARMS and _about(e, unit, site)
    )
    if warning is None:
        return TrendLead(unit, fault_at, None, None, "", alarms)
    return TrendLead(unit, fault_at, warning.at, site, warning.detail, alarms)


def _about(event: ControllerEvent, unit: str, site: str | None) -> bool:
    if event.unit == unit:
        return True
    # Without a warning the unit's site is unknown: any site's verdict is an alarm.
    return event.kind in SITE_ALARMS and (site is None or event.site == site)


def judge(expect: TrendWarningExpect, lead: TrendLead) -> ExpectationResult:
    """The report row ``trend_warning``: passes when the unit was warned of within the
    bound with its probes green until then."""
    seconds = lead.lead_seconds
    observed: dict[str, JsonScalar] = {"lead_seconds": seconds, "probes_green": lead.probes_green}
    passed = seconds is not None and seconds <= expect.max_lead_seconds and lead.probes_green
    expected: dict[str, JsonScalar] = {
        "unit": expect.unit, "max_lead_seconds": expect.max_lead_seconds, "probes_green": True,
    }  # fmt: skip
    return ExpectationResult("trend_warning", expected, observed, passed)


class TrendWatchJson(BaseModel):
    """``trend_watch`` in ``report.json`` (only in drills that expect a trend warning)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    unit: str
    fault_at: float | None
    warned_at: float | None
    lead_seconds: float | None
    site: str | None
    reason: str
    probes_green: bool
    alarms: list[str]


def to_json(lead: TrendLead) -> TrendWatchJson:
    def ms(value: float | None) -> float | None:
        return None if value is None else round(value, 3)

    return TrendWatchJson(
        unit=lead.unit, fault_at=ms(lead.fault_at), warned_at=ms(lead.warned_at),
        lead_seconds=lead.lead_seconds, site=lead.site, reason=lead.reason,
        probes_green=lead.probes_green, alarms=list(lead.alarms),
    )  # fmt: skip


def markdown_rows(t: TrendWatchJson) -> list[str]:
    """Rows of report.md's "What was measured" table."""
    if t.lead_seconds is None:
        lead = f"no trend warning for {t.unit} after the fault"
    else:
        lead = f"{t.lead_seconds:.3f} s ({t.reason})"
    green = "yes" if t.probes_green else "no: " + "; ".join(t.alarms)
    lead, green = (text.replace("|", "\\|").replace("\n", " ") for text in (lead, green))
    return [
        f"| Lead time: fault → first trend warning for {t.unit} | {lead} |",
        f"| Probes green while warning: no site verdict or move for {t.unit} or its site, "
        f"fault → warning | {green} |",
    ]
