"""Retry policies: bounded, deterministic with an injected sleep, re-raise the real error."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from failover.retry import (
    admin_call_retry,
    etcd_call_retry,
    etcd_sleep_budget,
    probe_round_retry,
)
from failover.topology import Timing


class Flaky:
    """Fails with the given errors in order, then returns ``"ok"``; counts calls."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


def recorder() -> tuple[list[float], Callable[[float], None]]:
    slept: list[float] = []
    return slept, slept.append


def async_recorder() -> tuple[list[float], Callable[[float], Awaitable[None]]]:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    return slept, sleep


def probed(call: Flaky, sleep: Callable[[float], Awaitable[None]]) -> object:
    async def attempt() -> object:
        return call()

    return asyncio.run(probe_round_retry(sleep=sleep)(attempt))


def test_probe_retries_one_connection_error_inside_the_round() -> None:
    slept, sleep = async_recorder()
    call = Flaky(ConnectionResetError())
    assert probed(call, sleep) == "ok"
    assert call.calls == 2
    assert slept == [0.05]


def test_probe_gives_up_after_two_attempts_with_the_original_error() -> None:
    slept, sleep = async_recorder()
    call = Flaky(ConnectionRefusedError("first"), ConnectionRefusedError("second"), OSError())
    with pytest.raises(ConnectionRefusedError, match="second"):
        probed(call, sleep)
    assert call.calls == 2
    assert slept == [0.05]


def test_probe_never_retries_a_timeout_so_a_hung_site_fails_the_round() -> None:
    slept, sleep = async_recorder()
    call = Flaky(TimeoutError("read timed out"))
    with pytest.raises(TimeoutError):
        probed(call, sleep)
    assert call.calls == 1
    assert slept == []


def test_admin_calls_back_off_exponentially_then_reraise() -> None:
    slept, sleep = recorder()
    call = Flaky(*(ConnectionError(str(i)) for i in range(10)))
    with pytest.raises(ConnectionError, match="4"):
        admin_call_retry(sleep=sleep)(call)
    assert call.calls == 5
    assert slept == pytest.approx([0.1, 0.2, 0.4, 0.8])


def test_admin_calls_stop_when_the_sleep_budget_would_be_exceeded() -> None:
    slept, sleep = recorder()
    call = Flaky(*(TimeoutError() for _ in range(10)))
    with pytest.raises(TimeoutError):
        admin_call_retry(sleep=sleep, budget_seconds=0.5)(call)
    assert slept == pytest.approx([0.1, 0.2])
    assert call.calls == 3


def test_admin_calls_do_not_retry_errors_that_are_not_transient() -> None:
    call = Flaky(ValueError("bad request"))
    with pytest.raises(ValueError, match="bad request"):
        admin_call_retry(sleep=lambda _: None)(call)
    assert call.calls == 1


def test_etcd_retries_stay_inside_the_controller_lease() -> None:
    timing = Timing()
    slept, sleep = recorder()
    call = Flaky(*(ConnectionError() for _ in range(10)))
    with pytest.raises(ConnectionError):
        etcd_call_retry(timing, sleep=sleep)(call)
    assert sum(slept) <= etcd_sleep_budget(timing)
    assert etcd_sleep_budget(timing) < timing.controller_lease_ttl_seconds
    assert slept == pytest.approx([0.05, 0.1, 0.2, 0.4])


def test_etcd_retries_shrink_with_a_short_lease() -> None:
    timing = Timing(controller_lease_ttl_seconds=2, fence_margin_seconds=1.5)
    slept, sleep = recorder()
    call = Flaky(*(ConnectionError() for _ in range(10)))
    with pytest.raises(ConnectionError):
        etcd_call_retry(timing, sleep=sleep)(call)
    assert sum(slept) <= 0.25
    assert call.calls == 3


def test_etcd_retry_succeeds_once_the_member_answers() -> None:
    call = Flaky(ConnectionError(), TimeoutError())
    assert etcd_call_retry(Timing(), sleep=lambda _: None)(call) == "ok"
    assert call.calls == 3


def test_policies_can_retry_a_callers_own_error_types() -> None:
    class GatewayDownError(Exception):
        pass

    call = Flaky(GatewayDownError())
    assert (
        etcd_call_retry(Timing(), sleep=lambda _: None, retry_on=(GatewayDownError,))(call) == "ok"
    )
