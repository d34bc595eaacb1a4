"""Benchmark: writes to a unit primary and its two standbys on loopback.

Starts a primary and both standbys (``python -m app``, quorum commit: a write waits for
either standby; no link delay here — see bench/commit_latency.py) in a temp directory, drives
``--writes`` purchases with ``--concurrency`` requests in flight, and prints throughput
and latency percentiles, and the CPU each instance used per acknowledged write (the
load generator runs on the same cores). No pass/fail: the figures go to docs/benchmarks.md.

    .venv/bin/python bench/unit_writes.py --writes 2000 --concurrency 16

Both instances use SQLite files (WAL, synchronous=FULL) in the temp directory.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from process_cpu import cpu_seconds

from failover.topology import default_topology
from infra.local.unit_process import plan_unit_trio, running_units

UNIT = "u00"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=2_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--keep", action="store_true", help="keep the temp dir and logs")
    args = parser.parse_args()
    topology = default_topology()
    placement = topology.placement(UNIT)
    customers = [f"bench-{i}" for i in range(5_000) if topology.unit_of(f"bench-{i}") == UNIT]
    tmp = Path(tempfile.mkdtemp(prefix="wt-bench-"))
    try:
        specs = plan_unit_trio(topology, UNIT, tmp, token="bench")
        with running_units(specs) as processes:
            url = processes[placement.primary].url
            pids = {site: process.pid for site, process in processes.items()}
            before = {site: cpu_seconds(pid) or 0.0 for site, pid in pids.items() if pid}
            latencies, statuses, elapsed = asyncio.run(
                drive(url, customers, args.writes, args.concurrency)
            )
            used = {
                site: (cpu_seconds(pid) or 0.0) - before[site] for site, pid in pids.items() if pid
            }
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    report(args, latencies, statuses, elapsed)
    acknowledged = statuses.get(201, 0) or 1
    for site, seconds in sorted(used.items(), key=lambda item: item[0] != placement.primary):
        role = "primary" if site == placement.primary else "standby"
        print(
            f"cpu {role:8}: {site:11} {seconds / elapsed:.2f} cores, "
            f"{1000 * seconds / acknowledged:.2f} ms per acknowledged write"
        )


async def drive(
    url: str, customers: list[str], writes: int, concurrency: int
) -> tuple[list[float], dict[int, int], float]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(writes):
        queue.put_nowait(i)
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:

        async def worker() -> None:
            while not queue.empty():
                i = queue.get_nowait()
                customer = customers[i % len(customers)]
                started = time.perf_counter()
                response = await client.post(
                    f"/v1/customers/{customer}/transactions",
                    json={"type": "purchase", "amount_minor": 1 + i % 500, "currency": "CNY"},
                    headers={"Idempotency-Key": f"bench-{i}"},
                )
                latencies.append(time.perf_counter() - started)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return latencies, statuses, elapsed


def report(
    args: argparse.Namespace, latencies: list[float], statuses: dict[int, int], elapsed: float
) -> None:
    ms = sorted(x * 1000 for x in latencies)
    p50 = statistics.median(ms)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    print(
        f"machine      : {platform.machine()}, {platform.python_implementation()} "
        f"{platform.python_version()}, {_cores()} cores"
    )
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"load average : {load} (1, 5, 15 min; other work on the machine skews figures)")
    print(
        f"writes       : {args.writes} at concurrency {args.concurrency} "
        "(sqlite, quorum commit over 2 standbys)"
    )
    print(f"statuses     : {dict(sorted(statuses.items()))}")
    print(f"throughput   : {len(ms) / elapsed:.0f} writes/s over {elapsed:.1f} s")
    print(f"latency (ms) : p50 {p50:.1f}  p99 {p99:.1f}  max {ms[-1]:.1f}")


def _cores() -> int:
    return os.cpu_count() or 0


if __name__ == "__main__":
    main()
