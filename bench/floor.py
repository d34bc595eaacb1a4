"""The floor: what the fewest Python steps of a replicated write cost on this machine.

    .venv/bin/python bench/floor.py [--units 8] [--seconds 20] [--connections 64]
                                    [--customers 2000] [--link-proxy]
    .venv/bin/python bench/floor.py --idle 30 [--units 8]

Starts a router and, per unit, a primary and two standbys (:mod:`floor_node`: the
product's topology of write processes, each a bare ASGI app on the product's HTTP
stack, SQLite with ``synchronous=FULL`` on every copy), then drives them with the same
wrk load as ``bench/capacity.py`` and prints acknowledged writes/s, latency and the CPU
milliseconds per write of each kind of process. No pass/fail: it tells how far the
product's figures (``bench/capacity.py``, same load) are from the floor, kind by kind,
and docs/benchmarks.md keeps both. The floor has no link proxies, etcd, observers or
controllers, and does no validation, idempotency, credit decision, fencing,
authentication or metrics: everything it costs, the product costs too.

``--link-proxy`` sends every cross-site hop through the product's own link proxy
(:class:`infra.local.linkproxy.LinkProxy`, run on a thread of this process and counted as
``linkproxy``), with the default topology's WAN delays, as on the local platform: the
router in the ``edge`` site, even units' primaries in production and odd ones in
same-city, a standby in each other site.

``--idle SECONDS`` measures the **idle floor** instead: no load; the floor's processes
behind the link proxy, a real three-member etcd (idle, no client but the probes; its
peers talk directly), each primary's heartbeats, and three observers (one per site, as
the product has) each GETting all the unit instances and the two other sites' etcd
members every second (:mod:`floor_node`). It prints the cores each kind used, summed as
``bench/capacity.py`` sums the idle platform. It leaves out leases and their keepalives,
reports, controllers, metrics and the etcd peers' hops through the link proxy, so the
product's idle cost can only be higher. ``--heartbeat-seconds S`` (0: none) and
``--observers N`` take it apart.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from process_cpu import cores_by_kind
from wrk_load import add_load_arguments, load_with_cpu, print_cores

from infra.local.etcd_cluster import EtcdCluster, plan_members
from infra.local.linkproxy import LinkProxy
from infra.local.supervisor import Supervisor

NODE = Path(__file__).resolve().parent / "floor_node.py"
REPO = NODE.parent.parent
READY_SECONDS = 30.0
#: Time the idle floor is left to settle (connections made, first rounds done).
SETTLE_SECONDS = 5.0
T = TypeVar("T")
SITES = ("production", "same-city", "remote-dr")
CITY_DELAYS_MS = {("production", "same-city"): 1.0, ("production", "remote-dr"): 15.0,
                  ("same-city", "remote-dr"): 15.0}  # fmt: skip


class ProxyThread:
    """The product's link proxy on an event loop in a daemon thread of this process."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        self.proxy = self._run(self._make())

    async def _make(self) -> LinkProxy:
        proxy = LinkProxy([*SITES, "edge"])
        for (a, b), ms in CITY_DELAYS_MS.items():
            proxy.set_base_delay(a, b, ms)
        return proxy

    def _run(self, work: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(timeout=10)

    def via(self, src: str, dst: str, port: int) -> int:
        """The port a process in ``src`` dials to reach ``port`` in ``dst``."""
        return self._run(self.proxy.listener_for(src, dst, "127.0.0.1", port))[1]

    def close(self) -> None:
        self._run(self.proxy.close())
        self.loop.call_soon_threadsafe(self.loop.stop)


def direct(_src: str, _dst: str, port: int) -> int:
    return port


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_listening(port: int) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1.0).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"a floor process did not listen on {port} within {READY_SECONDS} s")


@dataclass
class FloorProcesses:
    """The router's port, pid -> kind, and each unit instance's (site, port)."""

    router: int
    kinds: dict[int, str]
    instances: list[tuple[str, int]]
    spawn: Callable[..., subprocess.Popen[bytes]]


@contextmanager
def floor_processes(
    units: int,
    data: Path,
    via: Callable[[str, str, int], int],
    env: Mapping[str, str] | None = None,
) -> Iterator[FloorProcesses]:
    """Start the floor's processes, dialling each other through ``via``, with ``env``."""
    kinds: dict[int, str] = {}
    instances: list[tuple[str, int]] = []
    with ExitStack() as stack:

        def spawn(kind: str, *args: object) -> subprocess.Popen[bytes]:
            command = [sys.executable, str(NODE), kind, *map(str, args)]
            process = subprocess.Popen(command, cwd=REPO, env=env)
            stack.callback(process.wait, 10)
            stack.callback(process.terminate)
            kinds[process.pid] = kind
            return process

        def start(kind: str, site: str, *ports: int) -> int:
            spawn(kind, ports[0], data, *ports[1:])
            wait_listening(ports[0])
            instances.append((site, ports[0]))
            return ports[0]

        primaries = []
        for unit in range(units):
            home = SITES[unit % 2]
            standbys = [via(home, site, start("standby", site, free_port())) for site in SITES
                        if site != home]  # fmt: skip
            primaries.append(via("edge", home, start("primary", home, free_port(), *standbys)))
        router = start("router", "edge", free_port(), *primaries)
        yield FloorProcesses(router, kinds, instances[:-1], spawn)


def measure_floor(
    units: int, seconds: int, connections: int, customers: int, *, link_proxy: bool
) -> dict[str, Any]:
    """Run the floor under the capacity benchmark's load; its figures."""
    with ExitStack() as stack:
        data = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="watertight-floor-")))
        via: Callable[[str, str, int], int] = direct
        if link_proxy:
            proxy = ProxyThread()
            stack.callback(proxy.close)
            via = proxy.via
        floor = stack.enter_context(floor_processes(units, data, via))
        port, kinds = floor.router, floor.kinds
        if link_proxy:
            kinds[os.getpid()] = "linkproxy"  # this process does little else meanwhile
        print(f"floor: {len(kinds)} processes; wrk, {connections} connections, {seconds} s ...",
              flush=True)  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        load, cores = load_with_cpu(url, kinds, connections, seconds, customers)
    return {"units": units, "link_proxy": link_proxy, "load": load, "load_cores": cores}


def measure_idle_floor(
    units: int, seconds: int, heartbeat_seconds: float, observers: int
) -> dict[str, float]:
    """The idle floor (module docstring): cores by kind over ``seconds``."""
    with ExitStack() as stack:
        data = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="watertight-floor-")))
        supervisor = Supervisor(data / "etcd")
        stack.callback(supervisor.stop_all, 1.5)
        members = plan_members(SITES)
        EtcdCluster(supervisor, members).start(timeout=60)
        proxy = ProxyThread()
        stack.callback(proxy.close)

        def reach(src: str, dst: str, port: int) -> int:
            return port if src == dst else proxy.via(src, dst, port)

        env = {**os.environ, "FLOOR_HEARTBEAT_SECONDS": str(heartbeat_seconds)}
        floor = stack.enter_context(floor_processes(units, data, proxy.via, env))
        for observer in SITES[:observers]:
            targets = [f"{reach(observer, site, port)}/v1/unit" for site, port in floor.instances]
            targets += [f"{reach(observer, m.site, m.client_port)}/version" for m in members
                        if m.site != observer]  # fmt: skip
            floor.spawn("observer", 0, data, *targets)
        kinds = {**floor.kinds, os.getpid(): "linkproxy"}
        kinds.update({pid: "etcd" for pid in supervisor.pids().values()})
        print(f"idle floor: {len(kinds)} processes; settling {SETTLE_SECONDS:g} s, then "
              f"{seconds} s idle ...", flush=True)  # fmt: skip
        time.sleep(SETTLE_SECONDS)
        return cores_by_kind(kinds, seconds)


def print_floor(figures: dict[str, Any]) -> None:
    load, cores = figures["load"], figures["load_cores"]
    hops = "through the link proxy, WAN delays on" if figures["link_proxy"] else "direct"
    print(
        f"\nfloor through its router ({hops}): {load['acknowledged_per_second']:.1f} "
        f"acknowledged writes/s, p50 {load['p50_ms']:.1f} ms, p99 {load['p99_ms']:.1f} ms, "
        f"{load['failed']} failed ({figures['units']} units, {load['connections']} "
        f"connections, {load['seconds']} s, {load['customers']} customers)"
    )
    print_cores("floor", cores, load["acknowledged_per_second"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--units", type=int, default=8)
    add_load_arguments(parser)
    parser.add_argument("--link-proxy", action="store_true", help="cross-site hops proxied")
    parser.add_argument("--idle", type=int, metavar="SECONDS", help="measure the idle floor")
    parser.add_argument("--heartbeat-seconds", type=float, default=0.5, help="idle: 0 = none")
    parser.add_argument("--observers", type=int, default=3, choices=range(4), help="idle")
    args = parser.parse_args()
    if args.idle:
        cores = measure_idle_floor(args.units, args.idle, args.heartbeat_seconds, args.observers)
        shown = "  ".join(f"{kind} {used:.3f}" for kind, used in cores.items())
        print(
            f"\nidle floor over {args.idle} s ({args.observers} observers, heartbeats "
            f"every {args.heartbeat_seconds:g} s): {sum(cores.values()):.3f} cores ({shown})"
        )
        return
    figures = measure_floor(
        args.units, args.seconds, args.connections, args.customers, link_proxy=args.link_proxy
    )
    print_floor(figures)


if __name__ == "__main__":
    main()
