"""How the measurements walk client attempts: grouped by unit, in one total sent order.

:func:`sent_order` orders attempts by send time and breaks every tie on the attempt's own
fields, so no measurement (and no report byte) depends on the order the attempts came in.
Pure.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from drills.attempts import Attempt


def sent_order(attempt: Attempt) -> tuple[float, float, str, str, int]:
    # Total order so that ties never depend on input order (deterministic reports).
    return (
        attempt.sent_at,
        attempt.answered_at,
        attempt.customer_id,
        attempt.idempotency_key,
        attempt.attempt,
    )


def by_unit(attempts: Iterable[Attempt]) -> dict[str, list[Attempt]]:
    grouped: dict[str, list[Attempt]] = defaultdict(list)
    for a in attempts:
        grouped[a.unit].append(a)
    return grouped
