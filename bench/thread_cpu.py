"""Where a unit process's CPU goes, thread by thread, under the capacity load.

    .venv/bin/python bench/thread_cpu.py [--seconds 20] [--connections 64] [--customers 2000]
                                         [--processes unit-u00-production,...] [--runs 1]
                                         [--idle-seconds 0]

Starts the local platform (default topology, as ``bench/capacity.py``), drives it with
wrk (``bench/wrk_load.py``) and reads each chosen process's threads from
``/proc/<pid>/task/<tid>/stat`` before and after: user and system CPU per thread,
printed as milliseconds per write *of that process's unit* (the router's acknowledged
writes divided by the topology's units); with ``--idle-seconds``, first the same threads
of the idle platform, in milliseconds of CPU a second. Thread names (``committer``,
``ship-same-city``, ``MainThread`` ...) come from ``py-spy dump`` when ``py-spy`` is on
the PATH (``pip install py-spy``); without it threads are shown by id. Processes are
named as in the platform's ``pids/`` (``router``, ``etcd-production``, ``linkproxy``
...). No pass/fail: docs/benchmarks.md keeps the figures.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from capacity import wait_ready
from platform_session import local_platform
from process_cpu import CLOCK_TICKS, stat_ticks
from wrk_load import add_load_arguments, run_wrk

DEFAULT_PROCESSES = "unit-u00-production,unit-u02-production,unit-u00-same-city,unit-u00-remote-dr"
SETTLE_SECONDS = 8.0
T = TypeVar("T")
_THREAD = re.compile(r'Thread (?:0x[0-9A-Fa-f]+ )?\(?(\d+)\)? \((?:idle|active)[^)]*\): "([^"]+)"')


def thread_times(pid: int) -> dict[int, tuple[int, int]]:
    """Thread id -> (user, system) clock ticks so far."""
    times: dict[int, tuple[int, int]] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        ticks = stat_ticks(task / "stat")
        if ticks is not None:  # else the thread ended meanwhile
            times[int(task.name)] = ticks
    return times


def thread_names(pid: int) -> dict[int, str]:
    """Thread id -> Python thread name, from ``py-spy dump`` (empty without py-spy)."""
    spy = shutil.which("py-spy")
    if spy is None:
        return {}
    command = [spy, "dump", "-p", str(pid)]
    dump = subprocess.run(command, check=False, capture_output=True, text=True)
    return names_in_dump(dump.stdout)


def names_in_dump(dump: str) -> dict[int, str]:
    """Thread id -> name in a ``py-spy dump``'s text; a pool's numbered threads
    (``apply_0``, ``apply_1``) count as one name."""
    return {int(tid): re.sub(r"_\d+$", "", name) for tid, name in _THREAD.findall(dump)}


Ticks = dict[str, tuple[Counter[str], Counter[str]]]
"""Process -> (CPU ticks per thread name, system ticks per thread name)."""


def window(pids: dict[str, int], during: Callable[[], T]) -> tuple[T, Ticks]:
    """What ``during()`` returned, and each process's CPU ticks per thread meanwhile."""
    before = {name: thread_times(pid) for name, pid in pids.items()}
    result = during()
    after = {name: thread_times(pid) for name, pid in pids.items()}
    spent: Ticks = {}
    for name, pid in pids.items():
        labels = thread_names(pid)  # after: a pool starts its threads on first use
        used, system = spent.setdefault(name, (Counter(), Counter()))
        for tid, (user, sys_) in after[name].items():
            user0, sys0 = before[name].get(tid, (0, 0))
            label = labels.get(tid, f"tid {tid}")
            used[label] += user - user0 + sys_ - sys0
            system[label] += sys_ - sys0
    return result, spent


def print_ticks(spent: Ticks, per: float, unit: str) -> None:
    """Each process's CPU per thread in milliseconds, divided by ``per``."""
    ms = 1000.0 / CLOCK_TICKS / per
    for name, (used, system) in spent.items():
        parts = ", ".join(
            f"{label} {ticks * ms:.3f} (sys {system[label] * ms:.3f})"
            for label, ticks in used.most_common()
            if ticks
        )
        print(f"  {name}: {sum(used.values()) * ms:.3f} ms {unit}: {parts}")


def measure_idle(pids: dict[str, int], seconds: float) -> None:
    _, spent = window(pids, lambda: time.sleep(seconds))
    print(f"\nidle, {seconds:g} s:")
    print_ticks(spent, seconds, "of CPU a second")


def measure_load(pids: dict[str, int], router_url: str, args: argparse.Namespace,
                 units: int) -> None:  # fmt: skip
    load, spent = window(
        pids, lambda: run_wrk(router_url, args.connections, args.seconds, args.customers)
    )
    rate = load["acknowledged_per_second"]
    print(
        f"\n{rate:.1f} acknowledged writes/s, p99 {load['p99_ms']:.0f} ms "
        f"({args.connections} connections, {args.seconds} s, {args.customers} customers)"
    )
    print_ticks(spent, rate * args.seconds / units, "per write of its unit")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    add_load_arguments(parser)
    parser.add_argument("--processes", default=DEFAULT_PROCESSES)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument(
        "--idle-seconds", type=float, default=0.0, help="first, the threads of an idle platform"
    )
    args = parser.parse_args()
    names = [n.strip() for n in args.processes.split(",") if n.strip()]
    if shutil.which("py-spy") is None:
        print("py-spy is not on the PATH: threads are shown by id")
    with local_platform() as info:
        wait_ready(info["router_url"])
        time.sleep(SETTLE_SECONDS)
        state = info["state"]
        units = len({name.split("-")[1] for name in state["processes"] if name.startswith("unit-")})
        pid_dir = Path(state["state_dir"]) / "pids"
        pids = {name: int((pid_dir / f"{name}.pid").read_text()) for name in names}
        if args.idle_seconds > 0:
            measure_idle(pids, args.idle_seconds)
        for _ in range(args.runs):
            measure_load(pids, info["router_url"], args, units)


if __name__ == "__main__":
    main()
