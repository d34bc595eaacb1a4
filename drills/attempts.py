"""What the load generator saw: one frozen record per client attempt, and the read-back.

These records are the only evidence the measurements use (issue 5: the numbers come from
what clients saw, never from what the controller claims). Times are seconds relative to
the drill start, read from one client clock (a monotonic clock in the load generator).

- :class:`Attempt` — one HTTP attempt to post a write. A logical write is identified by
  ``(customer_id, idempotency_key)``; retries of it carry ``attempt`` 2, 3, ...
- :class:`ReadBack` — after the drill settles, what the runner found for one
  acknowledged write.

Both round-trip through plain JSON dicts (``to_json`` / ``from_json``) so a run's
evidence can be written next to its report and measured again later.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any, Literal, TypeAlias

FailureKind: TypeAlias = Literal["timeout", "connect-error", "invalid-answer"]
Outcome: TypeAlias = int | FailureKind
FAILURE_KINDS: frozenset[str] = frozenset({"timeout", "connect-error", "invalid-answer"})
WriteKey: TypeAlias = tuple[str, str]
"""A logical write: ``(customer_id, idempotency_key)``."""


@dataclass(frozen=True, slots=True)
class Attempt:
    """One attempt to post a write, as the client saw it.

    ``outcome`` is the HTTP status, or ``"timeout"`` (no answer within the client
    timeout), ``"connect-error"`` (no connection), ``"invalid-answer"`` (a 2xx whose body
    lacked the fields below; the load generator records it as a failure rather than
    guessing). A 2xx answer carries ``transaction_id``, ``site`` and ``epoch`` from its
    body, and ``lsn`` when present. ``201`` is a new posting; ``200`` is the replay of an
    earlier one (same key and body), whose body still names the *original* site and
    epoch — measurements that reason about epochs therefore use 201 answers only.
    """

    customer_id: str
    unit: str
    idempotency_key: str
    attempt: int
    sent_at: float
    answered_at: float
    outcome: Outcome
    transaction_id: str | None = None
    site: str | None = None
    epoch: int | None = None
    lsn: int | None = None

    def __post_init__(self) -> None:
        if self.attempt < 1:
            raise ValueError(f"attempt numbers start at 1, got {self.attempt}")
        if self.answered_at < self.sent_at:
            raise ValueError(
                f"answered_at {self.answered_at} is before sent_at {self.sent_at} "
                f"(key {self.idempotency_key})"
            )
        if isinstance(self.outcome, str) and self.outcome not in FAILURE_KINDS:
            raise ValueError(f"unknown outcome {self.outcome!r}")
        if self.ok and (self.transaction_id is None or self.site is None or self.epoch is None):
            raise ValueError(
                f"a {self.outcome} answer needs transaction_id, site and epoch "
                f"(key {self.idempotency_key}); record it as 'invalid-answer'"
            )

    @property
    def ok(self) -> bool:
        """Acknowledged: the server answered 2xx."""
        return isinstance(self.outcome, int) and 200 <= self.outcome < 300

    @property
    def posted(self) -> bool:
        """A fresh posting (201), whose site and epoch are the ones that served it."""
        return self.outcome == 201

    @property
    def key(self) -> WriteKey:
        return (self.customer_id, self.idempotency_key)

    @property
    def latency_ms(self) -> float:
        return (self.answered_at - self.sent_at) * 1000.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Attempt:
        return cls(**data)


class ReadBackResult(StrEnum):
    """What reading an acknowledged write back after the drill found."""

    FOUND = "found"
    NOT_FOUND = "not-found"
    DIFFERENT_CONTENT = "different-content"


@dataclass(frozen=True, slots=True)
class ReadBack:
    """The read-back of one acknowledged write.

    ``transaction_ids`` are the ids under which the write was found (normally exactly the
    one it was acknowledged with; two ids mean the key was posted twice).
    """

    customer_id: str
    idempotency_key: str
    result: ReadBackResult
    transaction_ids: tuple[str, ...] = ()

    @property
    def key(self) -> WriteKey:
        return (self.customer_id, self.idempotency_key)

    def to_json(self) -> dict[str, Any]:
        return {
            "customer_id": self.customer_id,
            "idempotency_key": self.idempotency_key,
            "result": self.result.value,
            "transaction_ids": list(self.transaction_ids),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ReadBack:
        return cls(
            customer_id=data["customer_id"],
            idempotency_key=data["idempotency_key"],
            result=ReadBackResult(data["result"]),
            transaction_ids=tuple(data.get("transaction_ids", ())),
        )
