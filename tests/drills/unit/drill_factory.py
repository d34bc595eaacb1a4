"""Synthetic drill evidence for the pure drill tests: attempts, read-backs, actions.

Times are seconds from the drill start. Every write gets a fresh idempotency key unless
one is given, so a test states exactly which writes are retries of which.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence

from drills.attempts import Attempt, Outcome, ReadBack, ReadBackResult
from drills.executed import ExecutedAction

UNITS = tuple(f"u{i:02d}" for i in range(8))
HOME = {u: ("production" if i % 2 == 0 else "same-city") for i, u in enumerate(UNITS)}
_keys = itertools.count(1)


def new_key() -> str:
    return f"k{next(_keys):06d}"


def ok(
    unit: str,
    t: float,
    *,
    epoch: int = 1,
    site: str | None = None,
    key: str | None = None,
    status: int = 201,
    latency: float = 0.02,
    tid: str | None = None,
    attempt: int = 1,
) -> Attempt:
    key = key or new_key()
    return Attempt(
        customer_id=f"cust-{unit}",
        unit=unit,
        idempotency_key=key,
        attempt=attempt,
        sent_at=t,
        answered_at=t + latency,
        outcome=status,
        transaction_id=tid or f"tx-{key}",
        site=site or HOME[unit],
        epoch=epoch,
        lsn=1,
    )


def fail(
    unit: str,
    t: float,
    outcome: Outcome = 503,
    *,
    latency: float = 0.02,
    key: str | None = None,
    attempt: int = 1,
) -> Attempt:
    return Attempt(
        customer_id=f"cust-{unit}",
        unit=unit,
        idempotency_key=key or new_key(),
        attempt=attempt,
        sent_at=t,
        answered_at=t + latency,
        outcome=outcome,
    )


def steady(
    unit: str,
    start: float,
    end: float,
    step: float = 0.25,
    *,
    epoch: int = 1,
    site: str | None = None,
) -> list[Attempt]:
    """Successful writes every ``step`` seconds in ``[start, end)``."""
    count = round((end - start) / step)
    return [ok(unit, start + i * step, epoch=epoch, site=site) for i in range(count)]


def failing(unit: str, start: float, end: float, step: float = 0.25) -> list[Attempt]:
    count = round((end - start) / step)
    return [fail(unit, start + i * step, "timeout", latency=2.0) for i in range(count)]


def found(attempts: Iterable[Attempt], drop: Sequence[str] = ()) -> list[ReadBack]:
    """A read-back for every acknowledged write: found, except keys in ``drop``."""
    seen: dict[tuple[str, str], str] = {}
    for a in attempts:
        if a.ok and a.transaction_id is not None:
            seen.setdefault(a.key, a.transaction_id)
    return [
        ReadBack(
            customer_id=c,
            idempotency_key=k,
            result=ReadBackResult.NOT_FOUND if k in drop else ReadBackResult.FOUND,
            transaction_ids=() if k in drop else (tid,),
        )
        for (c, k), tid in sorted(seen.items())
    ]


def action(
    at: float, command: str, *, until: float | None = None, phase: str = "method"
) -> ExecutedAction:
    name = command.split(maxsplit=1)[0]
    return ExecutedAction(
        action=name,
        command=command,
        started_at=at,
        finished_at=at + 0.2 if until is None else until,
        phase="rollback" if phase == "rollback" else "method",
    )


def clean_failover(fault_at: float = 10.0, back_at: float = 16.0) -> list[Attempt]:
    """Production dies at ``fault_at``; even units time out until ``back_at``, then serve
    from same-city at epoch 2. Odd units never notice."""
    attempts: list[Attempt] = []
    for unit in UNITS:
        if HOME[unit] == "production":
            attempts += steady(unit, 0.0, fault_at)
            attempts += failing(unit, fault_at, back_at)
            attempts += steady(unit, back_at, 30.0, epoch=2, site="same-city")
        else:
            attempts += steady(unit, 0.0, 30.0)
    return attempts
