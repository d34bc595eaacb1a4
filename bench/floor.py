"""The floor: what the fewest Python steps of a replicated write cost on this machine.

    .venv/bin/python bench/floor.py [--units 8] [--seconds 20] [--connections 64]
                                    [--customers 2000] [--link-proxy]

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
from collections.abc import Callable, Coroutine, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, TypeVar

from wrk_load import add_load_arguments, load_with_cpu, print_cores

from infra.local.linkproxy import LinkProxy

NODE = Path(__file__).resolve().parent / "floor_node.py"
REPO = NODE.parent.parent
READY_SECONDS = 30.0
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


@contextmanager
def floor_processes(
    units: int, data: Path, via: Callable[[str, str, int], int]
) -> Iterator[tuple[int, dict[int, str]]]:
    """Start the floor's processes, dialling each other through ``via``; yield the
    router's port and pid -> kind."""
    kinds: dict[int, str] = {}
    with ExitStack() as stack:

        def start(kind: str, *ports: int) -> int:
            args = [sys.executable, str(NODE), kind, str(ports[0]), str(data)]
            process = subprocess.Popen([*args, *map(str, ports[1:])], cwd=REPO)
            stack.callback(process.wait, 10)
            stack.callback(process.terminate)
            kinds[process.pid] = kind
            wait_listening(ports[0])
            return ports[0]

        primaries = []
        for unit in range(units):
            home = SITES[unit % 2]
            standbys = [via(home, site, start("standby", free_port())) for site in SITES
                        if site != home]  # fmt: skip
            primaries.append(via("edge", home, start("primary", free_port(), *standbys)))
        yield start("router", free_port(), *primaries), kinds


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
        port, kinds = stack.enter_context(floor_processes(units, data, via))
        if link_proxy:
            kinds[os.getpid()] = "linkproxy"  # this process does little else meanwhile
        print(f"floor: {len(kinds)} processes; wrk, {connections} connections, {seconds} s ...",
              flush=True)  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        load, cores = load_with_cpu(url, kinds, connections, seconds, customers)
    return {"units": units, "link_proxy": link_proxy, "load": load, "load_cores": cores}


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
    args = parser.parse_args()
    figures = measure_floor(
        args.units, args.seconds, args.connections, args.customers, link_proxy=args.link_proxy
    )
    print_floor(figures)


if __name__ == "__main__":
    main()
