"""Benchmark: how much of the primary lease's fence window an etcd election eats, under
pressure.

Each run starts three real etcd members behind the link proxy (as the platform does),
moves raft leadership to remote-dr, takes a primary lease from production (the
product's own :class:`app.etcd_lease.EtcdPrimaryLease`, its keepalive thread included),
then kills remote-dr's member and blackholes its links — the election the unit service
must ride out. It watches, every 20 ms, how long ago the last *successful* keepalive was
sent (the fence deadline counts from there) and prints the longest such gap beside the
window ``TTL − fence margin``. A run where the gap reaches the window fenced the primary.

Pressure (all optional, together reproduce a busy CI machine):

- ``--cpu N``: N busy-looping processes;
- ``--io N``: N processes writing and fsyncing 64 MiB files in a loop (dirty-page
  throttling stalls every writer on the machine, etcd included);
- ``--procs N``: N extra idle Python processes (memory and scheduler pressure);
- ``--gil``: a thread in *this* process (the lease's own) that holds the GIL in long
  pure-Python loops, as a busy request handler in the unit service would.

    .venv/bin/python bench/lease_pressure.py --runs 10 --cpu 6 --io 2 --procs 20 --gil

No pass/fail: figures go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import tempfile
import threading
import time
from pathlib import Path

from app.etcd_lease import EtcdPrimaryLease
from app.settings import UnitSettings
from failover.topology import default_topology
from infra.local.etcd_cluster import (
    EtcdCluster,
    behind_proxy,
    client_endpoints,
    plan_members,
    register_peer_ids,
)
from infra.local.etcd_leader import leader_site, move_leader
from infra.local.linkproxy_client import start_link_proxy
from infra.local.linkproxy_modes import BLACKHOLE
from infra.local.supervisor import Supervisor

PROD, CITY, DR = "production", "same-city", "remote-dr"


def _spin() -> None:
    while True:
        pass


def _write_files(directory: str) -> None:
    block = os.urandom(1 << 20)
    path = Path(directory) / f"io-{os.getpid()}"
    while True:
        with path.open("wb") as f:
            for _ in range(64):
                f.write(block)
            f.flush()
            os.fsync(f.fileno())


def _idle() -> None:
    time.sleep(3600)


def _hold_gil(stop: threading.Event) -> None:
    while not stop.is_set():
        sum(i * i for i in range(200_000))


def start_pressure(args: argparse.Namespace, scratch: str) -> list[multiprocessing.Process]:
    jobs: list[multiprocessing.Process] = []
    plan = [(_spin, ())] * args.cpu + [(_write_files, (scratch,))] * args.io
    plan += [(_idle, ())] * args.procs
    for target, targs in plan:
        job = multiprocessing.Process(target=target, args=targs, daemon=True)
        job.start()
        jobs.append(job)
    return jobs


def one_run(state: Path, watch_seconds: float) -> tuple[float, float, bool]:
    """(longest gap since the last successful keepalive send, window, fenced)."""
    supervisor = Supervisor(state)
    lease: EtcdPrimaryLease | None = None
    try:
        proxy = start_link_proxy(supervisor, (PROD, CITY, DR))
        cluster = EtcdCluster(supervisor, behind_proxy(plan_members((PROD, CITY, DR)), proxy))
        cluster.start(timeout=120)
        register_peer_ids(cluster, proxy)
        move_leader(cluster.client_urls, DR)
        endpoints = tuple(client_endpoints(cluster, proxy, PROD))
        lease = EtcdPrimaryLease(UnitSettings(unit="u00", site=PROD, etcd_endpoints=endpoints))
        lease.acquire("u00", PROD, 1)
        window = lease.ttl - lease.margin
        time.sleep(1.0)
        proxy.set_site_links(DR, BLACKHOLE)
        cluster.stop_member(DR, grace=0.0)
        longest, fenced = 0.0, False
        until = time.monotonic() + watch_seconds
        while time.monotonic() < until:
            deadline = lease._deadline.deadline  # the bench reads the lease's own bookkeeping
            if not lease.valid() or deadline is None:
                fenced = True
                break
            longest = max(longest, time.monotonic() - (deadline - window))
            time.sleep(0.02)
        leader = leader_site({s: cluster.client_urls[s] for s in (PROD, CITY)})
        print(f"    new raft leader: {leader}")
        return (window if fenced else longest), window, fenced
    finally:
        if lease is not None:
            lease.release()
        supervisor.stop_all(grace=1.5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cpu", type=int, default=0)
    parser.add_argument("--io", type=int, default=0)
    parser.add_argument("--procs", type=int, default=0)
    parser.add_argument("--gil", action="store_true")
    args = parser.parse_args()
    ttl = default_topology().timing.primary_lease_ttl_seconds
    scratch = tempfile.mkdtemp(prefix="lease-pressure-")
    jobs = start_pressure(args, scratch)
    stop = threading.Event()
    if args.gil:
        threading.Thread(target=_hold_gil, args=(stop,), daemon=True).start()
    print(f"pressure: cpu={args.cpu} io={args.io} procs={args.procs} gil={args.gil}; TTL {ttl} s")
    gaps: list[float] = []
    fenced_runs = 0
    try:
        for run in range(1, args.runs + 1):
            gap, window, fenced = one_run(Path(scratch) / f"run{run}", watch_seconds=3 * ttl)
            gaps.append(gap)
            fenced_runs += fenced
            verdict = "FENCED" if fenced else f"headroom {window - gap:.2f} s"
            print(f"run {run}: longest keepalive gap {gap:.2f} s of {window:.2f} s ({verdict})")
    finally:
        stop.set()
        for job in jobs:
            job.kill()
    print(
        f"{args.runs} runs: fenced {fenced_runs}, longest gap {max(gaps):.2f} s, "
        f"median {sorted(gaps)[len(gaps) // 2]:.2f} s, load average {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
