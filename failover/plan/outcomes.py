"""What a cycle decided about each unit, and the one sentence that says it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from failover.actions import Action
from failover.quorum import SiteState, SiteVerdict
from failover.snapshot import Route


class OutcomeKind(StrEnum):
    """What happens to a unit this cycle; also the order of phrases in the summary."""

    RESOLVING = "resolving"
    FAILING_OVER = "failing_over"
    REPROMOTING = "repromoting"
    DEMOTING = "demoting"
    REQUESTING_APPROVAL = "requesting_approval"
    AWAITING_APPROVAL = "awaiting_approval"
    WAITING = "waiting"
    REFUSED = "refused"
    ANOMALY = "anomaly"


_KIND_ORDER = {kind: index for index, kind in enumerate(OutcomeKind)}


@dataclass(frozen=True, slots=True)
class UnitOutcome:
    """One thing decided about one unit. Its phrase is ``f"{lead} {unit}{tail}"``; units
    with the same kind, lead and tail share one phrase in the summary."""

    unit: str
    kind: OutcomeKind
    lead: str
    tail: str
    actions: tuple[Action, ...] = ()

    @property
    def phrase(self) -> str:
        return f"{self.lead} {self.unit}{self.tail}"


def anomaly(unit: str, tail: str) -> UnitOutcome:
    return UnitOutcome(unit, OutcomeKind.ANOMALY, "anomaly:", tail)


@dataclass(frozen=True)
class Decision:
    """What to do this cycle and why.

    ``actions`` are to be carried out in order. ``suspended`` holds what would have been
    done if the controller were not frozen (empty otherwise). ``summary`` is one sentence
    for logs, events and ``watertight status``. ``sites`` are the cycle's verdicts, the
    only ones the executor may use. ``lapsed_cycles`` is what the controller must
    remember for the next cycle's snapshot.
    """

    actions: tuple[Action, ...]
    summary: str
    sites: Mapping[str, SiteVerdict]
    outcomes: tuple[UnitOutcome, ...]
    suspended: tuple[Action, ...] = ()
    lapsed_cycles: Mapping[str, int] = field(default_factory=dict)

    @property
    def anomalies(self) -> tuple[UnitOutcome, ...]:
        """Units a person must look at (no writable primary that the rules can repair)."""
        return tuple(
            o for o in self.outcomes if o.kind in (OutcomeKind.ANOMALY, OutcomeKind.REFUSED)
        )


def summary(
    outcomes: tuple[UnitOutcome, ...],
    sites: Mapping[str, SiteVerdict],
    routes: Mapping[str, Route],
) -> str:
    """One sentence: outcomes grouped by phrase (units comma-joined), or the steady state.

    When nothing is done this cycle, the sites that are not up are named too, so a
    sentence about waiting units still says which site is suspect."""
    if not outcomes:
        return _steady(sites, routes)
    notes = "" if any(o.actions for o in outcomes) else _site_notes(sites, routes)
    groups: dict[tuple[OutcomeKind, str, str], list[str]] = {}
    for o in outcomes:
        units = groups.setdefault((o.kind, o.lead, o.tail), [])
        if o.unit not in units:
            units.append(o.unit)
    ordered = sorted(groups.items(), key=lambda item: _KIND_ORDER[item[0][0]])
    sentence = "; ".join(f"{lead} {','.join(units)}{tail}" for (_, lead, tail), units in ordered)
    return f"{sentence} ({notes})" if notes else sentence


def _steady(sites: Mapping[str, SiteVerdict], routes: Mapping[str, Route]) -> str:
    healthy = sum(1 for v in sites.values() if v.state is SiteState.UP)
    sentence = f"no action: {healthy}/{len(sites)} sites healthy"
    notes = _site_notes(sites, routes)
    return f"{sentence} ({notes})" if notes else sentence


def _site_notes(sites: Mapping[str, SiteVerdict], routes: Mapping[str, Route]) -> str:
    primaries = {route.site for route in routes.values()}
    notes = [
        f"{v.site} down and holds no primaries: {v.reason}"
        if v.down and v.site not in primaries
        else v.reason
        for v in sites.values()
        if v.state is not SiteState.UP
    ]
    return "; ".join(notes)
