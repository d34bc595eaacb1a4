"""Two sections of the drill report kept beside :mod:`drills.report`: the load the drill
ran (``load`` in report.json, a header row of report.md) and the trend watch's lead time
(``trend_watch``, measured by :mod:`drills.trend_lead`, only for a drill that expects a
trend warning). Pure; same input, same output."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from drills.controller_event import ControllerEvent
from drills.expectations import ExpectationResult
from drills.spec import DrillSpec, Load
from drills.trend_lead import TrendWatchJson, judge, to_json, trend_lead


class LoadJson(BaseModel):
    """The spec's load, so a report says what the system was under."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rate_per_second: float
    duration_seconds: float
    customers: int


def load_json(load: Load) -> LoadJson:
    return LoadJson(
        rate_per_second=load.rate_per_second,
        duration_seconds=load.duration_seconds,
        customers=load.customers,
    )


def load_rows(load: LoadJson | None) -> list[str]:
    """report.md's header row for the load (none in a report written before it)."""
    if load is None:
        return []
    return [
        f"| load | {load.rate_per_second:g} writes/s for {load.duration_seconds:g} s "
        f"over {load.customers} customers |"
    ]


def trend_watch(
    spec: DrillSpec, events: Sequence[ControllerEvent], fault_at: float | None
) -> tuple[ExpectationResult | None, TrendWatchJson | None]:
    """The ``trend_warning`` row and the ``trend_watch`` section; ``(None, None)`` unless
    the spec expects a trend warning."""
    expect = spec.expect.trend_warning
    if expect is None:
        return None, None
    lead = trend_lead(events, fault_at, expect.unit)
    return judge(expect, lead), to_json(lead)
