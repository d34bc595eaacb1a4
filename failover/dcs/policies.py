"""Named retry policies (tenacity) of the quorum store adapter, in one place.

Every policy is bounded in attempts *and* time, so no call can hang a caller: one
attempt already walks all endpoints with short per-request timeouts (see
:class:`failover.dcs.etcd.EtcdDcs`), a retry only helps across a leader election.

- :data:`READ` / :data:`IDEMPOTENT_WRITE` — reads and blind puts/deletes: retried on
  :class:`DcsUnavailable` (including an unknown outcome, harmless for these).
- :data:`TXN` — compare-and-swap: retried only when the request surely had no effect;
  an unknown outcome is raised to the caller, who must re-read.
- :data:`KEEPALIVE` — lease keepalive: no retry; the caller's loop is the retry, and its
  deadline is measured from each send.
- :func:`watch_backoff` — waits between watch reconnects.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential,
)

from failover.dcs.errors import DcsOutcomeUnknown, DcsUnavailable

RetryFactory = Callable[[], Retrying]


def _unavailable(exc: BaseException) -> bool:
    return isinstance(exc, DcsUnavailable)


def _surely_not_applied(exc: BaseException) -> bool:
    return isinstance(exc, DcsUnavailable) and not isinstance(exc, DcsOutcomeUnknown)


def read_policy() -> Retrying:
    """Reads: 3 attempts, at most ~4 s of waiting, then the last error is raised."""
    return Retrying(
        retry=retry_if_exception(_unavailable),
        stop=stop_after_attempt(3) | stop_after_delay(4.0),
        wait=wait_exponential(multiplier=0.1, max=1.0),
        reraise=True,
    )


def idempotent_write_policy() -> Retrying:
    """Blind puts and deletes: same bounds as reads (their end state does not depend on
    how often they are applied)."""
    return read_policy()


def txn_policy() -> Retrying:
    """Transactions: retried only when the request surely did not reach etcd."""
    return Retrying(
        retry=retry_if_exception(_surely_not_applied),
        stop=stop_after_attempt(3) | stop_after_delay(4.0),
        wait=wait_exponential(multiplier=0.1, max=1.0),
        reraise=True,
    )


def keepalive_policy() -> Retrying:
    """Keepalive: a single attempt; the lease loop calls again on its next tick."""
    return Retrying(stop=stop_after_attempt(1), reraise=True)


READ: RetryFactory = read_policy
IDEMPOTENT_WRITE: RetryFactory = idempotent_write_policy
TXN: RetryFactory = txn_policy
KEEPALIVE: RetryFactory = keepalive_policy

_WATCH_WAIT = wait_exponential(multiplier=0.2, max=3.0)


def watch_backoff(failures: int) -> float:
    """Seconds to wait before watch reconnect number ``failures`` (1-based): 0.2 s
    doubling up to 3 s."""
    state: Any = RetryCallState(retry_object=Retrying(), fn=None, args=(), kwargs={})
    state.attempt_number = max(1, failures)
    return float(_WATCH_WAIT(state))
