"""The clients' retry budget: retries add a share of the load, never a multiple of it."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from drills.retry_budget import RetryBudget


def test_without_first_attempts_only_the_minimum_rate_is_granted() -> None:
    budget = RetryBudget(ratio=0.2, min_per_second=1.0, window_seconds=5.0)
    granted = [budget.try_retry(0.1 * i) for i in range(20)]
    assert granted == [True] * 5 + [False] * 15


def test_first_attempts_earn_their_share_of_retries() -> None:
    budget = RetryBudget(ratio=0.5, min_per_second=0.0, window_seconds=10.0)
    for i in range(10):
        budget.first_attempt(float(i) / 10)
    granted = sum(budget.try_retry(1.0) for _ in range(10))
    assert granted == 5


def test_the_window_moves_on_and_old_retries_stop_counting() -> None:
    budget = RetryBudget(ratio=0.0, min_per_second=1.0, window_seconds=2.0)
    assert budget.try_retry(0.0) and budget.try_retry(0.5)
    assert not budget.try_retry(1.9)
    assert budget.try_retry(2.0)  # the retry at 0.0 left the window (2.0 - 2.0, 2.0]
    assert not budget.try_retry(2.4)


def test_first_attempts_that_left_the_window_earn_nothing_more() -> None:
    budget = RetryBudget(ratio=1.0, min_per_second=0.0, window_seconds=1.0)
    budget.first_attempt(0.0)
    assert budget.allowed(0.5) == 1.0
    assert budget.allowed(1.0) == 0.0
    assert not budget.try_retry(1.0)


_events = st.lists(
    st.tuples(st.floats(0.0, 0.5), st.booleans()),  # (time since the previous event, first?)
    max_size=300,
)


@given(
    events=_events,
    ratio=st.floats(0.0, 2.0),
    min_per_second=st.floats(0.0, 20.0),
    window=st.floats(0.1, 10.0),
)
def test_no_window_ending_at_a_granted_retry_holds_more_than_the_budget(
    events: list[tuple[float, bool]], ratio: float, min_per_second: float, window: float
) -> None:
    """And a retry is refused only when the window is full: the budget never refuses
    what it would hold."""
    budget = RetryBudget(ratio=ratio, min_per_second=min_per_second, window_seconds=window)
    now, firsts, retries = 0.0, [], []
    for gap, first in events:
        now += gap
        if first:
            budget.first_attempt(now)
            firsts.append(now)
            continue
        recent_retries = sum(1 for t in retries if t > now - window)
        holds = min_per_second * window + ratio * sum(1 for t in firsts if t > now - window)
        granted = budget.try_retry(now)
        assert granted == (recent_retries + 1 <= holds)
        if granted:
            retries.append(now)
