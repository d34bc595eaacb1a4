"""The latency reading of a level: the writes slower than a bound agree with its
quantiles (hypothesis), so the p99 rule's two questions read one histogram one way."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from app.traffic import LATENCY_BOUNDS_MS
from failover.trends.signals import percentile, slower_than

BUCKETS = len(LATENCY_BOUNDS_MS) + 1
histograms = st.dictionaries(
    st.integers(0, BUCKETS - 2).map(lambda i: f"lat:{i}"), st.floats(0.01, 500.0), min_size=1
)


@given(histograms, st.floats(0.5, 0.999))
def test_the_writes_slower_than_a_quantile_are_the_rest_of_the_writes(
    level: dict[str, float], q: float
) -> None:
    total = sum(level.values())
    at = percentile(level, LATENCY_BOUNDS_MS, q)
    assert math.isclose(slower_than(level, LATENCY_BOUNDS_MS, at), (1 - q) * total, rel_tol=1e-6)


@given(histograms, st.floats(0.0, 70000.0), st.floats(0.0, 70000.0))
def test_fewer_writes_are_slower_than_a_higher_bound(
    level: dict[str, float], a: float, b: float
) -> None:
    low, high = sorted((a, b))
    assert (
        slower_than(level, LATENCY_BOUNDS_MS, high)
        <= slower_than(level, LATENCY_BOUNDS_MS, low) + 1e-9
    )


def test_a_write_in_the_open_last_bucket_is_slower_than_any_bound_up_to_it() -> None:
    level = {f"lat:{BUCKETS - 1}": 2.0, "lat:0": 1.0}
    assert slower_than(level, LATENCY_BOUNDS_MS, LATENCY_BOUNDS_MS[-1]) == 2.0
    assert slower_than(level, LATENCY_BOUNDS_MS, 0.0) == 3.0
