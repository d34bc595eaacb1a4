"""The load generator: an open-loop stream of card transactions against the router.

Open loop: write *i* is started at ``i / rate`` seconds whatever happened to earlier
writes (a closed loop would slow down during an outage and hide it). Every logical write
has its own idempotency key; like a real client, it retries the *same* key after a 503
(waiting ``Retry-After``, capped), a timeout or a connection error, until it gets an
answer that ends it (2xx, or a 4xx the client cannot fix) or its retry deadline passes,
and only while the clients' retry budget allows (:mod:`drills.retry_budget`).

Every attempt is recorded as a :class:`drills.attempts.Attempt`, times in seconds from
the drill start on one monotonic clock (``clock() - started_at``). The plan of writes
(customers, types, amounts) is a pure function of the seed, so a run can be repeated.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from drills.attempts import Attempt, Outcome, WriteKey
from drills.retry_budget import RetryBudget
from drills.spec import Load
from drills.write_transport import RouterTransport
from failover.topology import Topology

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]
RETRY_AFTER_CAP_SECONDS = 2.0
RETRY_BACKOFF_SECONDS = 0.25
RETRY_BACKOFF_CAP_SECONDS = 2.0
AMOUNTS = {"purchase": (100, 20_000), "payment": (1_000, 50_000), "refund": (100, 5_000)}


@dataclass(frozen=True, slots=True)
class Write:
    """One logical write: a customer, its idempotency key and the body to post."""

    customer_id: str
    unit: str
    key: str
    body: Mapping[str, Any]

    @property
    def write_key(self) -> WriteKey:
        return (self.customer_id, self.key)


@dataclass(frozen=True, slots=True)
class Acknowledged:
    """A write the server acknowledged (2xx) at least once, and under which id."""

    write: Write
    transaction_id: str


def customers(load: Load, topology: Topology, run_id: str) -> dict[str, list[str]]:
    """The drill's customers by unit, fresh per run: ids ``<run_id>-c0000``, ``-c0001``…
    taken in order, each kept while its unit still lacks its share (``load.customers``
    over the units, rounded up), until every unit has it. Pure.

    Why not simply the first ``load.customers`` ids: their units follow the hash, so a
    unit can get few customers or none, and its writes come too rarely for a 5 s probe
    to see it serve (CI aborted a chaos seed on "no acknowledged write from u00")."""
    share = -(-load.customers // len(topology.units))
    by_unit: dict[str, list[str]] = {unit: [] for unit in topology.units}
    missing, index = len(by_unit) * share, 0
    while missing:
        customer = f"{run_id}-c{index:04d}"
        chosen = by_unit[topology.unit_of(customer)]
        if len(chosen) < share:
            chosen.append(customer)
            missing -= 1
        index += 1
    return by_unit


def plan_write(index: int, load: Load, population: Mapping[str, list[str]], run_id: str,
               seed: int) -> Write:  # fmt: skip
    """Write number ``index`` of a run: pure, so a seed and a run id reproduce the load.

    Writes go to the units in turn (``index`` modulo the units), each to a random
    customer of its unit: every unit sees the same steady rate."""
    rng = random.Random(f"{seed}:{index}")
    units = sorted(population)
    unit = units[index % len(units)]
    customer = rng.choice(population[unit])
    mix = load.mix
    kind = rng.choices(("purchase", "payment", "refund"), (mix.purchase, mix.payment, mix.refund))
    low, high = AMOUNTS[kind[0]]
    body = {"type": kind[0], "amount_minor": rng.randint(low, high), "currency": "CNY"}
    return Write(customer, unit, f"{run_id}-w{index:07d}", body)


def retry_delay(outcome: Outcome, retry_after: str | None, attempt: int = 1) -> float | None:
    """Seconds to wait before retrying the same key after attempt number ``attempt``, or
    None when the write is over.

    2xx ends the write; 503 waits ``Retry-After`` (at most 2 s); timeouts, connection
    errors, invalid answers and other 5xx back off exponentially (0.25, 0.5, 1, 2, 2, ... s;
    deterministic, so a seed replays the same load); other 4xx end it (the request itself
    is wrong: retrying cannot help).
    """
    if isinstance(outcome, str) or (outcome >= 500 and outcome != 503):
        return min(RETRY_BACKOFF_SECONDS * 2.0 ** (attempt - 1), RETRY_BACKOFF_CAP_SECONDS)
    if 200 <= outcome < 300:
        return None
    if outcome == 503:
        try:
            wanted = float(retry_after) if retry_after else RETRY_BACKOFF_SECONDS
        except ValueError:
            wanted = RETRY_BACKOFF_SECONDS
        return min(max(wanted, 0.05), RETRY_AFTER_CAP_SECONDS)
    return None


def record(
    write: Write, number: int, sent_at: float, answered_at: float, outcome: Outcome, body: Any
) -> Attempt:
    """An :class:`Attempt` from an answer; a 2xx without the fields is ``invalid-answer``."""
    if isinstance(outcome, int) and 200 <= outcome < 300:
        ok = (
            isinstance(body, dict)
            and isinstance(body.get("transaction_id"), str)
            and isinstance(body.get("site"), str)
            and isinstance(body.get("epoch"), int)
        )
        if not ok:
            outcome = "invalid-answer"
        else:
            return Attempt(
                customer_id=write.customer_id, unit=write.unit, idempotency_key=write.key,
                attempt=number, sent_at=sent_at, answered_at=answered_at, outcome=outcome,
                transaction_id=body["transaction_id"], site=body["site"], epoch=body["epoch"],
                lsn=body.get("lsn") if isinstance(body.get("lsn"), int) else None,
            )  # fmt: skip
    return Attempt(
        customer_id=write.customer_id, unit=write.unit, idempotency_key=write.key,
        attempt=number, sent_at=sent_at, answered_at=answered_at, outcome=outcome,
    )  # fmt: skip


#: Requests a load generator has in flight at most; more wait for a slot, their time
#: counted. Without a cap, hundreds of requests hanging in a site outage at 50 writes/s
#: each held a connection of their own (with httpx, whose pool scanned every connection
#: for every queued request, that took the whole event loop and starved the drill's own
#: controller calls and guard rails).
MAX_IN_FLIGHT = 96


@dataclass
class LoadGenerator:
    """Runs one drill's load; ``attempts`` grows live (the runner's probes read it).

    ``retry_for_seconds``: how long after the load ends writes still in flight keep
    retrying before the client gives up on them. ``retries_refused`` counts the retries
    the retry budget did not allow (each ended its write, unacknowledged).
    """

    load: Load
    router_url: str
    topology: Topology
    transport: RouterTransport
    clock: Clock
    started_at: float
    run_id: str
    seed: int = 0
    sleep: Sleep = asyncio.sleep
    retry_for_seconds: float = 10.0
    attempts: list[Attempt] = field(default_factory=list)
    acknowledged: dict[WriteKey, Acknowledged] = field(default_factory=dict)
    writes_started: int = 0
    retries_refused: int = 0

    def __post_init__(self) -> None:
        self.population = customers(self.load, self.topology, self.run_id)
        self._slots = asyncio.Semaphore(MAX_IN_FLIGHT)
        budget = self.load.retry_budget
        self._budget = RetryBudget(budget.ratio, budget.min_per_second, budget.window_seconds)

    def now(self) -> float:
        return self.clock() - self.started_at

    async def run(self, stop: asyncio.Event) -> None:
        """Start writes on schedule until the duration ends or ``stop`` is set; then wait
        for writes in flight (cancelled at once if ``stop`` is set)."""
        in_flight: set[asyncio.Task[None]] = set()
        total = int(self.load.rate_per_second * self.load.duration_seconds)
        try:
            for index in range(total):
                due = index / self.load.rate_per_second
                if not await self._wait_until(due, stop):
                    break
                write = plan_write(index, self.load, self.population, self.run_id, self.seed)
                task = asyncio.create_task(self._post(write, stop))
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
                self.writes_started += 1
            await self._wait_until(self.load.duration_seconds, stop)
            stopper = asyncio.ensure_future(stop.wait())
            try:
                while in_flight and not stop.is_set():
                    await asyncio.wait({*in_flight, stopper}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                stopper.cancel()
        finally:
            for task in list(in_flight):
                task.cancel()
            await asyncio.gather(*in_flight, return_exceptions=True)

    async def _wait_until(self, due: float, stop: asyncio.Event) -> bool:
        delay = due - self.now()
        if delay > 0 and not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
        return not stop.is_set()

    async def _post(self, write: Write, stop: asyncio.Event) -> None:
        url = f"{self.router_url}/v1/customers/{write.customer_id}/transactions"
        headers = {"Idempotency-Key": write.key}
        body = json.dumps(dict(write.body)).encode()
        deadline = self.load.duration_seconds + self.retry_for_seconds
        number = 0
        while not stop.is_set():
            number += 1
            sent_at = self.now()
            if number == 1:
                deadline = min(deadline, sent_at + self.load.give_up_after_seconds)
                self._budget.first_attempt(sent_at)
            elif not self._budget.try_retry(sent_at):
                self.retries_refused += 1
                return
            outcome, answer, retry_after = await self._send(url, headers, body)
            attempt = record(write, number, sent_at, max(self.now(), sent_at), outcome, answer)
            self.attempts.append(attempt)
            if attempt.ok and attempt.transaction_id:
                self.acknowledged.setdefault(
                    write.write_key, Acknowledged(write, attempt.transaction_id)
                )
            delay = retry_delay(attempt.outcome, retry_after, number)
            if delay is None or self.now() + delay > deadline:
                return
            await self.sleep(delay)

    async def _send(
        self, url: str, headers: dict[str, str], body: bytes
    ) -> tuple[Outcome, Any, str | None]:
        timeout = self.load.request_timeout_seconds
        try:
            # The whole exchange, like a real client, including the wait for one of its
            # connections: a write that cannot even be sent in time has failed.
            async with asyncio.timeout(timeout), self._slots:
                status, content, retry_after = await self.transport.post(url, body, headers)
        except TimeoutError:
            return "timeout", None, None
        except ConnectionError:
            return "connect-error", None, None
        try:
            answer = json.loads(content)
        except ValueError:
            answer = None
        return status, answer, retry_after
