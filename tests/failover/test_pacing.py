"""The fixed-rate loop: a step starts an interval after the previous one *started*."""

from __future__ import annotations

import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from failover.pacing import pause_before_next, run_at_fixed_rate


class FakeClockAndStop:
    """A clock that steps take time on, and a stop that records each wait."""

    def __init__(self, steps_before_stop: int) -> None:
        self.now = 100.0
        self.waits: list[float] = []
        self._left = steps_before_stop

    def clock(self) -> float:
        return self.now

    def is_set(self) -> bool:
        return self._left <= 0

    def wait(self, timeout: float | None = None) -> bool:
        assert timeout is not None
        self.waits.append(timeout)
        self.now += timeout
        return self.is_set()

    def take(self, seconds: float) -> None:
        self.now += seconds
        self._left -= 1


def test_a_step_that_overruns_the_interval_is_followed_after_only_the_floor() -> None:
    fake = FakeClockAndStop(steps_before_stop=3)
    durations = iter([1.6, 0.2, 0.0])
    run_at_fixed_rate(
        lambda: fake.take(next(durations)), 1.0, fake, logging.getLogger("t"), "cycle", fake.clock
    )
    assert fake.waits == [pytest.approx(0.1), pytest.approx(0.8), pytest.approx(1.0)]


def test_a_failing_step_is_logged_and_the_loop_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeClockAndStop(steps_before_stop=2)
    calls: list[int] = []

    def step() -> None:
        fake.take(0.0)
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("a bug in one cycle")

    with caplog.at_level(logging.ERROR):
        run_at_fixed_rate(step, 1.0, fake, logging.getLogger("t"), "controller cycle", fake.clock)
    assert len(calls) == 2
    assert "controller cycle failed" in caplog.text


@given(
    interval=st.floats(0.05, 30.0),
    took=st.floats(0.0, 100.0),
)
def test_the_pause_never_undercuts_the_floor_nor_stretches_the_period(
    interval: float, took: float
) -> None:
    pause = pause_before_next(interval, started=50.0, now=50.0 + took)
    assert pause >= interval * 0.1 - 1e-9
    assert pause <= interval + 1e-9
    if took + interval * 0.1 <= interval:
        assert took + pause == pytest.approx(interval)


class FakeWake:
    """A wake that is set when wait number ``woken_at_wait`` begins; records each wait."""

    def __init__(self, fake: FakeClockAndStop, woken_at_wait: int | None) -> None:
        self.fake, self.clears = fake, 0
        self.waits: list[float] = []
        self._woken_at_wait = woken_at_wait

    def wait(self, timeout: float | None = None) -> bool:
        assert timeout is not None
        self.waits.append(timeout)
        woken = len(self.waits) == self._woken_at_wait
        self.fake.now += 0.0 if woken else timeout
        return woken

    def clear(self) -> None:
        self.clears += 1


def wakeable_run(woken_at_wait: int | None, step_seconds: float) -> tuple[list[float], FakeWake]:
    """Three steps of ``step_seconds`` each, every 1 s; returns when each started."""
    fake = FakeClockAndStop(steps_before_stop=3)
    wake = FakeWake(fake, woken_at_wait)
    started: list[float] = []

    def step() -> None:
        started.append(fake.now)
        fake.take(step_seconds)

    run_at_fixed_rate(step, 1.0, fake, logging.getLogger("t"), "cycle", fake.clock, wake)
    return started, wake


def test_a_wake_starts_the_next_step_right_after_the_floor() -> None:
    started, wake = wakeable_run(woken_at_wait=1, step_seconds=0.2)
    # Step 1 at 100.0 (0.2 s); floor 0.1; woken at once: step 2 at 100.3, not 101.0.
    assert started == [100.0, pytest.approx(100.3), pytest.approx(101.3)]
    assert wake.fake.waits == [pytest.approx(0.1)] * 3
    assert wake.waits == [pytest.approx(0.7)] * 2
    assert wake.clears == 3


def test_without_a_wake_a_wakeable_loop_keeps_the_interval() -> None:
    started, _ = wakeable_run(woken_at_wait=None, step_seconds=0.0)
    assert started == [100.0, pytest.approx(101.0), pytest.approx(102.0)]
