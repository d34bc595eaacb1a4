"""The business-trend watch (docs/design.md §12): pure, decides nothing, moves nothing.

:class:`TrendWatch` turns successive readings of each unit's cumulative traffic into
warnings; the controller records and exports them and never hands them to the decision.
"""

from failover.trends.judge import KINDS
from failover.trends.signals import TrafficSample, parse_sample, percentile
from failover.trends.watch import TrendUpdate, TrendWarning, TrendWatch

__all__ = [
    "KINDS",
    "TrafficSample",
    "TrendUpdate",
    "TrendWarning",
    "TrendWatch",
    "parse_sample",
    "percentile",
]
