"""A client gives up on a write after its patience, like a card terminal."""

from __future__ import annotations

import asyncio

import httpx

from drills.loadgen import LoadGenerator
from drills.spec import Load, Mix, RetryBudgetSpec
from drills.write_transport import HttpxTransport
from failover.topology import default_topology


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


def _always_busy(_request: httpx.Request) -> httpx.Response:
    return httpx.Response(503, json={"error": "busy"}, headers={"Retry-After": "1"})


async def _attempts_of_one_write(give_up_after: float) -> list[float]:
    clock = FakeClock()
    load = Load(
        rate_per_second=1, customers=1, duration_seconds=1, mix=Mix(purchase=1.0),
        give_up_after_seconds=give_up_after,
    )  # fmt: skip
    generator = await _run(load, clock)
    return [a.sent_at for a in generator.attempts]


def test_a_write_is_retried_until_the_clients_patience_runs_out_then_given_up() -> None:
    sent = asyncio.run(_attempts_of_one_write(give_up_after=5.0))
    assert sent == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]


def test_without_patience_left_the_drill_deadline_still_ends_the_retries() -> None:
    sent = asyncio.run(_attempts_of_one_write(give_up_after=600.0))
    assert sent[-1] <= 1.0 + 10.0
    assert len(sent) == 12


def test_retries_beyond_the_clients_budget_are_not_sent_and_are_counted() -> None:
    """Three writes that the router always answers 503: the patience alone would send
    each again every second; the budget (two retries in any 10 s) lets two retries out,
    then every write that wants another is given up, and the report learns how many."""
    clock = FakeClock()
    load = Load(
        rate_per_second=1, customers=3, duration_seconds=3, mix=Mix(purchase=1.0),
        retry_budget=RetryBudgetSpec(ratio=0.0, min_per_second=0.2, window_seconds=10.0),
    )  # fmt: skip
    generator = asyncio.run(_run(load, clock))
    firsts = [a for a in generator.attempts if a.attempt == 1]
    retries = [a for a in generator.attempts if a.attempt > 1]
    assert len(firsts) == 3
    assert len(retries) == 2
    assert generator.retries_refused == 3  # each write ended on the retry it could not send


async def _run(load: Load, clock: FakeClock) -> LoadGenerator:
    async with httpx.AsyncClient(transport=httpx.MockTransport(_always_busy)) as client:
        generator = LoadGenerator(
            load, "http://router.test", default_topology(), HttpxTransport(client), clock, 0.0,
            "r1", sleep=clock.sleep, retry_for_seconds=10.0,
        )  # fmt: skip
        await generator.run(asyncio.Event())
    return generator
