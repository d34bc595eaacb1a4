"""Reading back every acknowledged write once the drill settles (the RPO evidence).

For each write a client saw acknowledged, ``GET /v1/customers/{id}/transactions/{tid}``
through the router. A 200 whose content matches what was posted is ``found``; a 200 with
another customer, type or amount is ``different-content``; a 404 is ``not-found``. Any
other answer (503 while routes settle, timeouts) is retried in rounds until
``settle_seconds`` pass; a write still unreadable then is left out, and the measurements
count it as lost (docs/design.md §1: acknowledged and cannot be read back). A 404 is retried too,
so a read that raced a route change is not mistaken for a loss.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Mapping
from typing import Any

from drills.attempts import ReadBack, ReadBackResult, WriteKey
from drills.loadgen import Acknowledged, Clock, Sleep
from drills.write_transport import RouterTransport

CONCURRENCY = 16
ROUND_PAUSE_SECONDS = 1.0


def judge(ack: Acknowledged, status: int, body: Any) -> ReadBack | None:
    """The read-back of one answer, or None when the answer proves nothing yet."""
    write = ack.write
    if status == 404:
        return ReadBack(write.customer_id, write.key, ReadBackResult.NOT_FOUND)
    if status != 200 or not isinstance(body, dict):
        return None
    same = (
        body.get("customer_id") == write.customer_id
        and body.get("type") == write.body["type"]
        and body.get("amount_minor") == write.body["amount_minor"]
    )
    result = ReadBackResult.FOUND if same else ReadBackResult.DIFFERENT_CONTENT
    tid = str(body.get("transaction_id", ack.transaction_id))
    return ReadBack(write.customer_id, write.key, result, (tid,))


async def read_back(
    transport: RouterTransport,
    router_url: str,
    acknowledged: Mapping[WriteKey, Acknowledged],
    *,
    clock: Clock,
    sleep: Sleep = asyncio.sleep,
    settle_seconds: float = 30.0,
) -> list[ReadBack]:
    """Read back every acknowledged write (see the module docstring), sorted by key,
    through ``transport`` (the runner's: the lean keep-alive client, whose timeout bounds
    each read)."""
    deadline = clock() + settle_seconds
    final: dict[WriteKey, ReadBack] = {}
    pending = dict(acknowledged)
    while pending:
        results = await _round(transport, router_url, pending.values())
        for key, rb in results.items():
            final[key] = rb
            if rb.result is not ReadBackResult.NOT_FOUND:
                pending.pop(key)
        if not pending or clock() + ROUND_PAUSE_SECONDS > deadline:
            break
        await sleep(ROUND_PAUSE_SECONDS)
    return sorted(final.values(), key=lambda rb: rb.key)


async def _round(
    transport: RouterTransport, router_url: str, acks: Iterable[Acknowledged]
) -> dict[WriteKey, ReadBack]:
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(ack: Acknowledged) -> ReadBack | None:
        url = f"{router_url}/v1/customers/{ack.write.customer_id}/transactions/{ack.transaction_id}"
        async with gate:
            try:
                status, content = await transport.get(url)
            except (TimeoutError, ConnectionError):
                return None
        try:
            body = json.loads(content)
        except ValueError:
            body = None
        return judge(ack, status, body)

    found = await asyncio.gather(*(one(a) for a in acks))
    return {rb.key: rb for rb in found if rb is not None}
