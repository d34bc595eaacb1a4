"""Benchmark: write latency under quorum commit, acknowledged from the same city or not.

Starts one unit's primary (production) and its two standbys (same-city, remote-dr) as
real processes, with every cross-site connection through the link proxy at the
topology's standing delays (default 1 ms one way inside city A, 15 ms to remote-dr).
Then three phases of ``--writes`` purchases each, ``--concurrency`` in flight:

1. all links up: the same-city standby normally acknowledges first;
2. production ⟷ same-city cut (blackholed): the remote-dr standby acknowledges, at WAN
   latency, and no write stops;
3. healed: the same-city standby catches up and acknowledges again.

Prints p50/p99 per phase. No pass/fail: figures go to docs/benchmarks.md.

    .venv/bin/python bench/commit_latency.py --writes 1000 --concurrency 8
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import httpx

from failover.topology import default_topology
from infra.local.linkproxy_client import LinkProxyClient, start_link_proxy
from infra.local.linkproxy_modes import BLACKHOLE
from infra.local.supervisor import Supervisor
from infra.local.unit_process import (
    LOOPBACK,
    UnitInstanceSpec,
    plan_unit_trio,
    running_units,
)

UNIT = "u00"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=1_000)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    topology = default_topology()
    placement = topology.placement(UNIT)
    customers = [f"lat-{i}" for i in range(5_000) if topology.unit_of(f"lat-{i}") == UNIT]
    tmp = Path(tempfile.mkdtemp(prefix="wt-commit-"))
    supervisor = Supervisor(tmp / "state")
    try:
        proxy = start_link_proxy(supervisor, topology.site_names)
        for a, b in ((s, t) for s in topology.site_names for t in topology.site_names if s < t):
            proxy.set_base_delay(a, b, topology.link_delay_ms(a, b))
        specs = plan_unit_trio(topology, UNIT, tmp, token="bench")
        specs = {site: _via_proxy(spec, specs, proxy) for site, spec in specs.items()}
        with running_units(specs) as processes:
            url = processes[placement.primary].url
            _wait_links(url)
            print(_header(args))
            for phase, cut in (
                ("all links up", False),
                ("city-A link cut", True),
                ("healed", False),
            ):
                if cut:
                    proxy.set_mode(placement.primary, placement.city_standby, BLACKHOLE)
                else:
                    proxy.heal()
                    _wait_links(url)
                latencies, statuses = asyncio.run(
                    _drive(url, customers, args.writes, args.concurrency, phase)
                )
                print(_line(phase, latencies, statuses))
    finally:
        supervisor.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)


def _via_proxy(
    spec: UnitInstanceSpec, specs: dict[str, UnitInstanceSpec], proxy: LinkProxyClient
) -> UnitInstanceSpec:
    """The spec with every peer reached through the proxy listener for its site pair."""
    peers = {}
    for site, other in specs.items():
        if site != spec.site:
            host, port = proxy.listener_for(spec.site, site, LOOPBACK, other.port)
            peers[site] = f"http://{host}:{port}"
    return replace(spec, peers=peers)


def _wait_links(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        standbys = httpx.get(f"{url}/v1/unit", timeout=5).json().get("standbys", [])
        if standbys and all(s["healthy"] and s["lag_entries"] == 0 for s in standbys):
            return
        time.sleep(0.1)
    raise SystemExit("the primary's standbys did not catch up within 60 s")


async def _drive(
    url: str, customers: list[str], writes: int, concurrency: int, phase: str
) -> tuple[list[float], dict[int, int]]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(writes):
        queue.put_nowait(i)
    tag = phase.replace(" ", "-")
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:

        async def worker() -> None:
            while not queue.empty():
                i = queue.get_nowait()
                started = time.perf_counter()
                response = await client.post(
                    f"/v1/customers/{customers[i % len(customers)]}/transactions",
                    json={"type": "purchase", "amount_minor": 1 + i % 500, "currency": "CNY"},
                    headers={"Idempotency-Key": f"{tag}-{i}"},
                )
                latencies.append(time.perf_counter() - started)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, statuses


def _header(args: argparse.Namespace) -> str:
    topology = default_topology()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"{args.writes} writes per phase at concurrency {args.concurrency}; one-way delay "
        f"{topology.network.same_city_delay_ms:g} ms in city A, "
        f"{topology.network.cross_city_delay_ms:g} ms to remote-dr; "
        f"{os.cpu_count()} cores, load average {load}"
    )


def _line(phase: str, latencies: list[float], statuses: dict[int, int]) -> str:
    ms = sorted(x * 1000 for x in latencies)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    return (
        f"{phase:<16} p50 {statistics.median(ms):6.1f} ms   p99 {p99:6.1f} ms   "
        f"statuses {dict(sorted(statuses.items()))}"
    )


if __name__ == "__main__":
    main()
