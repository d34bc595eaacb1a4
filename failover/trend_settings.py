"""How the trend watch judges business traffic: the topology's ``trends`` section.

Pure (pydantic only), like the topology model that embeds it. The defaults are the
production choice (docs/design.md §12): a baseline that remembers a few minutes, a
current level that reacts in seconds, a departure held for 30 s before it warns. Each
threshold sits below the size of departure the bank asked to be warned of (a decline
ratio that triples warns at 2.5x, approvals down 80 % warn at 70 %, a p99 that doubles
warns at 1.6x), so that size warns with margin for noise and latency buckets.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

Seconds = Annotated[float, Field(gt=0, le=86400)]
Fraction = Annotated[float, Field(gt=0, lt=1)]
Factor = Annotated[float, Field(gt=1, le=100)]


class TrendSettings(BaseModel):
    """Every threshold of the trend watch (``failover/trends``), named for what it does."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    baseline_half_life_seconds: Seconds = 300.0
    """How long the baseline remembers: a change slower than this is the new normal."""
    current_half_life_seconds: Seconds = 5.0
    """How fast the current level follows the traffic (smooths one-second noise)."""
    warmup_seconds: Seconds = 120.0
    """Traffic a unit must have shown before it may warn (its baseline means something)."""
    hold_seconds: Seconds = 30.0
    """How long a departure must last before it is a warning."""
    baseline_freeze_max_seconds: Seconds = 900.0
    """While a unit looks suspect (half-way to a threshold) or warns, its baseline stops
    learning — else a step change drags the baseline after it and never crosses the
    threshold, and a lasting fault becomes the normal under its own warning — at most
    this long, then it learns again (a change that lasts becomes the new normal)."""
    min_writes_per_second: Annotated[float, Field(gt=0, le=1e6)] = 0.5
    """Below this (baseline, and current for ratios and latency) a unit never warns."""
    decline_ratio_factor: Factor = 2.5
    failure_ratio_factor: Factor = 2.5
    ratio_floor: Fraction = 0.02
    """A ratio's baseline counts as at least this, so 0 → 1 % is not "tripled"."""
    approvals_drop: Fraction = 0.7
    """Warn when approvals fall by this fraction of what the baseline expects."""
    p99_factor: Factor = 1.6
    latency_floor_ms: Annotated[float, Field(gt=0, le=60000)] = 10.0
    """A p99 baseline counts as at least this, so 2 ms → 4 ms is not "doubled"."""
    min_slow_writes: Annotated[float, Field(gt=0, le=1e6)] = 3.0
    """A p99 departure counts only when at least this many writes of the current window
    (about ``current_half_life_seconds / ln 2`` long) were slower than the baseline's p99
    (past the old tail): a quiet unit's p99 is its one slowest write, and one slow write
    is noise."""
    mix_shift: Fraction = 0.3
    """Warn when a transaction type's share of writes moves by this much (0.3 = 30 points)."""

    @model_validator(mode="after")
    def _current_faster_than_baseline(self) -> TrendSettings:
        if self.current_half_life_seconds >= self.baseline_half_life_seconds:
            raise ValueError("current_half_life_seconds must be below baseline_half_life_seconds")
        return self
