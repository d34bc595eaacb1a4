"""Named retry policies, all in one place (tenacity).

Each function returns a fresh :class:`tenacity.Retrying` (the observer's probe policy an
:class:`tenacity.AsyncRetrying`: its probes run on an event loop); use it as
``policy(fn, *args)`` or ``for attempt in policy: with attempt: ...`` (``async for`` and
``await policy(coroutine_fn, *args)`` for the async one). Every policy re-raises the
last error itself (never ``tenacity.RetryError``), so callers handle the same exceptions
with or without retries, and takes an injected ``sleep`` so tests run without waiting.
Budgets are counted in *slept* seconds (``RetryCallState.idle_for``), not wall-clock
time, so they are deterministic; each attempt is bounded by the caller's own timeout.

- :func:`probe_round_retry` — inside one observer round (async). Retries only fast
  connection errors, once; never a timeout: a hung site (accepts TCP, never answers)
  must count as a failed round, and the ``failure_rounds`` counter, not a retry, absorbs
  one bad round.
- :func:`admin_call_retry` — calls to a unit instance's admin endpoints (promote, demote,
  fence). Those are idempotent by epoch, so retrying is safe.
- :func:`etcd_call_retry` — calls to the DCS from the controller leader. The sleep budget
  stays below the controller lease TTL minus the fence margin, so a leader never keeps
  retrying past the point where another controller may have taken over.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    before_sleep_log,
    retry_if_exception_type,
    stop_after_attempt,
    stop_any,
    wait_exponential,
    wait_fixed,
)
from tenacity.stop import stop_base

from failover.topology import Timing

Sleep = Callable[[float], None]
AsyncSleep = Callable[[float], Awaitable[None]]
ErrorTypes = tuple[type[BaseException], ...]

LOG = logging.getLogger("failover.retry")

PROBE_ATTEMPTS = 2
PROBE_PAUSE_SECONDS = 0.05
ADMIN_ATTEMPTS = 5
ADMIN_SLEEP_BUDGET_SECONDS = 2.0
ETCD_ATTEMPTS = 5

#: Errors worth another try by default: the peer may answer next time.
TRANSIENT_ERRORS: ErrorTypes = (ConnectionError, TimeoutError)


class stop_when_sleep_budget_spent(stop_base):  # noqa: N801 - tenacity's naming style
    """Stop when the next pause would take the total slept time past ``budget_seconds``."""

    def __init__(self, budget_seconds: float) -> None:
        self.budget_seconds = budget_seconds

    def __call__(self, retry_state: RetryCallState) -> bool:
        upcoming = retry_state.upcoming_sleep or 0.0
        return retry_state.idle_for + upcoming > self.budget_seconds


def probe_round_retry(
    *, sleep: AsyncSleep = asyncio.sleep, retry_on: ErrorTypes = (ConnectionError,)
) -> AsyncRetrying:
    """At most two attempts, 50 ms apart, and only on ``retry_on`` (fast connection errors).

    Timeouts are deliberately not in the default ``retry_on``: one probe timeout already
    fills half the round, and a hung site must show up as a failed round.
    """
    return AsyncRetrying(
        sleep=sleep,
        stop=stop_after_attempt(PROBE_ATTEMPTS),
        wait=wait_fixed(PROBE_PAUSE_SECONDS),
        retry=retry_if_exception_type(retry_on),
        reraise=True,
        before_sleep=before_sleep_log(LOG, logging.DEBUG),
        name="probe_round_retry",
    )


def admin_call_retry(
    *,
    sleep: Sleep = time.sleep,
    retry_on: ErrorTypes = TRANSIENT_ERRORS,
    budget_seconds: float = ADMIN_SLEEP_BUDGET_SECONDS,
) -> Retrying:
    """Up to five attempts with pauses of 0.1, 0.2, 0.4, 0.8 s (capped 1 s, at most
    ``budget_seconds`` slept in all). Only for calls that are idempotent by epoch."""
    return Retrying(
        sleep=sleep,
        stop=stop_any(
            stop_after_attempt(ADMIN_ATTEMPTS), stop_when_sleep_budget_spent(budget_seconds)
        ),
        wait=wait_exponential(multiplier=0.1, min=0.1, max=1.0),
        retry=retry_if_exception_type(retry_on),
        reraise=True,
        before_sleep=before_sleep_log(LOG, logging.WARNING),
        name="admin_call_retry",
    )


def etcd_sleep_budget(timing: Timing) -> float:
    """Seconds a leader may spend sleeping between etcd attempts in one call.

    Half of what is left of its lease after the fence margin: the other half is for the
    attempts themselves, each bounded by the client's timeout.
    """
    return max(0.0, (timing.controller_lease_ttl_seconds - timing.fence_margin_seconds) / 2)


def etcd_call_retry(
    timing: Timing, *, sleep: Sleep = time.sleep, retry_on: ErrorTypes = TRANSIENT_ERRORS
) -> Retrying:
    """Up to five attempts, pauses from 50 ms doubling, within :func:`etcd_sleep_budget`.

    A transaction that timed out may still have committed: a retried compare-and-set
    that then fails its compare must be re-read, not reported as a conflict.
    """
    return Retrying(
        sleep=sleep,
        stop=stop_any(
            stop_after_attempt(ETCD_ATTEMPTS),
            stop_when_sleep_budget_spent(etcd_sleep_budget(timing)),
        ),
        wait=wait_exponential(multiplier=0.05, min=0.05, max=1.0),
        retry=retry_if_exception_type(retry_on),
        reraise=True,
        before_sleep=before_sleep_log(LOG, logging.WARNING),
        name="etcd_call_retry",
    )
