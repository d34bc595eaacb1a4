"""Router overhead: writes through the router vs straight to the unit's primary, same run.

    .venv/bin/python bench/router_overhead.py [--writes 2000] [--concurrency 16]

Prints throughput and p50/p99 latency of both paths and their ratio. No pass/fail.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid

import httpx
from platform_session import local_platform, percentile

BODY = {"type": "purchase", "amount_minor": 1, "currency": "CNY"}


async def drive(
    base: str, customer: str, writes: int, concurrency: int
) -> tuple[float, list[float]]:
    semaphore = asyncio.Semaphore(concurrency)
    latencies: list[float] = []
    async with httpx.AsyncClient(base_url=base, timeout=10.0) as client:

        async def one() -> None:
            async with semaphore:
                started = time.perf_counter()
                answer = await client.post(
                    f"/v1/customers/{customer}/transactions",
                    json=BODY,
                    headers={"Idempotency-Key": uuid.uuid4().hex},
                )
                latencies.append(time.perf_counter() - started)
                answer.raise_for_status()

        began = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(writes)))
        return time.perf_counter() - began, latencies


def report(label: str, elapsed: float, latencies: list[float]) -> float:
    rate = len(latencies) / elapsed
    print(
        f"{label:>8}: {rate:8.1f} writes/s   p50 {percentile(latencies, 0.5) * 1000:6.2f} ms   "
        f"p99 {percentile(latencies, 0.99) * 1000:6.2f} ms"
    )
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--writes", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    with local_platform() as info:
        router = info["router_url"]
        customer = "alice"  # unit u01, primary in same-city
        route = httpx.get(f"{router}/v1/routes/{customer}").json()
        record = info["state"]["processes"][f"unit-{route['unit']}-{route['site']}"]
        direct = f"http://127.0.0.1:{record['env']['WATERTIGHT_PORT']}"
        asyncio.run(drive(router, customer, 100, args.concurrency))  # warm-up
        d_elapsed, d_lat = asyncio.run(drive(direct, customer, args.writes, args.concurrency))
        r_elapsed, r_lat = asyncio.run(drive(router, customer, args.writes, args.concurrency))
        print(f"{args.writes} writes, concurrency {args.concurrency}, unit {route['unit']}")
        d_rate = report("direct", d_elapsed, d_lat)
        r_rate = report("router", r_elapsed, r_lat)
        print(
            f"   ratio: router/direct throughput {r_rate / d_rate:.2f}, p50 latency "
            f"{percentile(r_lat, 0.5) / percentile(d_lat, 0.5):.2f}x"
        )


if __name__ == "__main__":
    main()
