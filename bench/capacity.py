"""Capacity of the whole local platform, beside a PostgreSQL anchor measured in the same run.

    .venv/bin/python bench/capacity.py [--seconds 20] [--connections 64] [--customers 2000]
                                       [--idle-seconds 30] [--no-anchor] [--tls] [--floor]

1. ``watertight up`` (default topology: three sites, eight units, the link proxies' WAN
   delays), then the **idle cost**: cores used by all of the platform's processes over
   ``--idle-seconds``, read from ``/proc``, per kind of process.
2. **Capacity**: wrk (a C load generator; Debian's ``wrk``) drives ``--connections``
   closed-loop clients through the router for ``--seconds``, each write a purchase or a
   payment of 1 for a random one of ``--customers`` customers under a fresh
   ``Idempotency-Key``. Prints acknowledged (201) writes/s, p50/p99 latency, failures,
   and the cores each kind of process used meanwhile (and so CPU milliseconds per write).
3. **Anchor**: PostgreSQL primary + synchronous standby (``remote_apply``), pgbench with
   the same number of clients and a write of the same shape (:mod:`pg_anchor`), then
   the ratio of the two. No pass/fail: docs/benchmarks.md keeps the figures.
4. With ``--floor``, **the floor** (``bench/floor.py --link-proxy``: the same hops,
   fsyncs and link proxy with nothing else) under the same load, once the platform is
   down, and the ratio of the two.

``--tls`` starts the platform with mutual TLS between sites (``up --tls``); the router's
front door stays plain, so wrk is unchanged.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import httpx
from floor import measure_floor, print_floor
from pg_anchor import run_anchor
from platform_session import local_platform
from process_cpu import cores_by_kind, platform_pids
from wrk_load import add_load_arguments, load_with_cpu, print_cores

READY_WAIT_SECONDS = 60.0
SETTLE_SECONDS = 10.0


def wait_ready(router_url: str) -> None:
    deadline = time.monotonic() + READY_WAIT_SECONDS
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{router_url}/readyz", timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"the router at {router_url} was not ready within {READY_WAIT_SECONDS} s")


def measure_platform(args: argparse.Namespace) -> dict[str, Any]:
    with local_platform(tls=args.tls) as info:
        router_url = info["router_url"]
        wait_ready(router_url)
        state = info["state"]
        pids = platform_pids(Path(state["state_dir"]), state["processes"])
        time.sleep(SETTLE_SECONDS)
        print(f"idle: {len(pids)} processes over {args.idle_seconds} s ...", flush=True)
        idle = cores_by_kind(pids, args.idle_seconds)
        print(f"load: wrk, {args.connections} connections, {args.seconds} s ...", flush=True)
        load, loaded = load_with_cpu(
            router_url, pids, args.connections, args.seconds, args.customers
        )
        return {"idle_cores": idle, "load": load, "load_cores": loaded}


def print_platform(figures: dict[str, Any]) -> None:
    idle = figures["idle_cores"]
    print(f"\nidle platform: {sum(idle.values()):.3f} cores")
    for kind, cores in idle.items():
        print(f"  {kind:<10} {cores:.3f}")
    load = figures["load"]
    print(
        f"\nthrough the router: {load['acknowledged_per_second']:.1f} acknowledged writes/s, "
        f"p50 {load['p50_ms']:.1f} ms, p99 {load['p99_ms']:.1f} ms, {load['failed']} failed, "
        f"{load['timeouts']} timed out ({load['connections']} connections, {load['seconds']} s, "
        f"{load['customers']} customers)"
    )
    print_cores("platform", figures["load_cores"], load["acknowledged_per_second"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    add_load_arguments(parser)
    parser.add_argument("--idle-seconds", type=float, default=30.0)
    parser.add_argument("--no-anchor", action="store_true", help="skip the PostgreSQL anchor")
    parser.add_argument(
        "--floor", action="store_true", help="also run bench/floor.py (link proxy on) after it"
    )
    parser.add_argument("--tls", action="store_true", help="mutual TLS between sites")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    figures = measure_platform(args)
    print_platform(figures)
    if args.floor:
        floor = measure_floor(8, args.seconds, args.connections, args.customers, link_proxy=True)
        print_floor(floor)
        figures["floor"] = floor
        ratio = (
            figures["load"]["acknowledged_per_second"] / floor["load"]["acknowledged_per_second"]
        )
        figures["ratio_to_floor"] = ratio
        print(f"watertight / floor: {ratio:.3f}")
    if not args.no_anchor:
        print("\nanchor: PostgreSQL + synchronous standby (remote_apply), pgbench ...", flush=True)
        anchor = run_anchor(args.connections, args.seconds)
        figures["anchor"] = anchor.__dict__
        print(
            f"anchor: {anchor.tps:.0f} TPS, p50 {anchor.p50_ms:.1f} ms, p99 "
            f"{anchor.p99_ms:.1f} ms ({anchor.clients} clients, {anchor.seconds} s)"
        )
        ratio = figures["load"]["acknowledged_per_second"] / anchor.tps
        figures["ratio_to_anchor"] = ratio
        print(f"watertight / anchor: {ratio:.3f}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
