"""Where a unit process's CPU goes, thread by thread, under the capacity load.

    .venv/bin/python bench/thread_cpu.py [--seconds 20] [--connections 64] [--customers 2000]
                                         [--processes unit-u00-production,...] [--runs 1]

Starts the local platform (default topology, as ``bench/capacity.py``), drives it with
wrk (``bench/wrk_load.py``) and reads each chosen process's threads from
``/proc/<pid>/task/<tid>/stat`` before and after: user and system CPU per thread,
printed as milliseconds per write *of that process's unit* (the router's acknowledged
writes divided by the topology's units). Thread names (``committer``, ``ship-same-city``,
``MainThread`` ...) come from ``py-spy dump`` when ``py-spy`` is on the PATH (``pip
install py-spy``); without it threads are shown by id. No pass/fail: docs/benchmarks.md
keeps the figures.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import time
from collections import Counter
from pathlib import Path

from capacity import wait_ready
from platform_session import local_platform
from process_cpu import CLOCK_TICKS
from wrk_load import add_load_arguments, run_wrk

DEFAULT_PROCESSES = "unit-u00-production,unit-u02-production,unit-u00-same-city,unit-u00-remote-dr"
SETTLE_SECONDS = 8.0
_THREAD = re.compile(r'Thread (?:0x[0-9A-Fa-f]+ )?\(?(\d+)\)? \((?:idle|active)[^)]*\): "([^"]+)"')


def thread_times(pid: int) -> dict[int, tuple[int, int]]:
    """Thread id -> (user, system) clock ticks so far."""
    times: dict[int, tuple[int, int]] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the thread ended meanwhile
        times[int(task.name)] = (int(fields[11]), int(fields[12]))
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


def measure(state_dir: Path, router_url: str, names: list[str], args: argparse.Namespace,
            units: int) -> None:  # fmt: skip
    pids = {name: int((state_dir / "pids" / f"{name}.pid").read_text()) for name in names}
    before = {name: thread_times(pid) for name, pid in pids.items()}
    load = run_wrk(router_url, args.connections, args.seconds, args.customers)
    after = {name: thread_times(pid) for name, pid in pids.items()}
    # Named after the load: a pool starts its threads on first use.
    labels = {name: thread_names(pid) for name, pid in pids.items()}
    rate = load["acknowledged_per_second"]
    per_unit = rate * args.seconds / units
    print(
        f"\n{rate:.1f} acknowledged writes/s, p99 {load['p99_ms']:.0f} ms "
        f"({args.connections} connections, {args.seconds} s, {args.customers} customers)"
    )
    for name in names:
        used: Counter[str] = Counter()
        system: Counter[str] = Counter()
        for tid, (user, sys_) in after[name].items():
            user0, sys0 = before[name].get(tid, (0, 0))
            label = labels[name].get(tid, f"tid {tid}")
            used[label] += user - user0 + sys_ - sys0
            system[label] += sys_ - sys0
        ms = 1000.0 / CLOCK_TICKS / per_unit
        total = sum(used.values()) * ms
        parts = ", ".join(
            f"{label} {ticks * ms:.3f} (sys {system[label] * ms:.3f})"
            for label, ticks in used.most_common()
            if ticks
        )
        print(f"  {name}: {total:.3f} ms per write of its unit: {parts}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    add_load_arguments(parser)
    parser.add_argument("--processes", default=DEFAULT_PROCESSES)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    names = [n.strip() for n in args.processes.split(",") if n.strip()]
    if shutil.which("py-spy") is None:
        print("py-spy is not on the PATH: threads are shown by id")
    with local_platform() as info:
        wait_ready(info["router_url"])
        time.sleep(SETTLE_SECONDS)
        state = info["state"]
        units = len({name.split("-")[1] for name in state["processes"] if name.startswith("unit-")})
        for _ in range(args.runs):
            measure(Path(state["state_dir"]), info["router_url"], names, args, units)


if __name__ == "__main__":
    main()
