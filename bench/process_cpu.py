"""CPU used by a set of processes over a window, read from ``/proc/<pid>/stat``.

Used by the capacity benchmark to say where the platform's cores go, per kind of process
(router, unit, observer, ...). Figures are cores: CPU seconds divided by wall seconds.
"""

from __future__ import annotations

import os
import time
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def stat_ticks(stat: Path) -> tuple[int, int] | None:
    """User and system clock ticks from a ``/proc`` ``stat`` file (a process's or one
    of its threads'), or None when it is gone."""
    try:
        text = stat.read_text()
    except OSError:
        return None
    # The command name may hold spaces and parentheses: fields follow the last ')'.
    fields = text.rsplit(")", 1)[1].split()
    return int(fields[11]), int(fields[12])


def cpu_seconds(pid: int) -> float | None:
    """User plus system CPU of ``pid`` so far, or None when it is gone."""
    ticks = stat_ticks(Path(f"/proc/{pid}/stat"))
    return None if ticks is None else sum(ticks) / CLOCK_TICKS


def platform_pids(state_dir: Path, processes: Mapping[str, Mapping[str, object]]) -> dict[int, str]:
    """Pid -> kind for every recorded process of a local platform that is running."""
    kinds: dict[int, str] = {}
    for pid_file in sorted((state_dir / "pids").glob("*.pid")):
        name = pid_file.stem
        record = processes.get(name, {})
        kind = str(record.get("kind", name.split("-")[0]))
        try:
            kinds[int(pid_file.read_text().strip())] = kind
        except (OSError, ValueError):
            continue
    return kinds


def cores_by_kind(pids: Mapping[int, str], seconds: float) -> dict[str, float]:
    """Sleep ``seconds`` and return the cores each kind of process used meanwhile."""
    before = {pid: cpu_seconds(pid) for pid in pids}
    began = time.monotonic()
    time.sleep(seconds)
    elapsed = time.monotonic() - began
    used: dict[str, float] = defaultdict(float)
    for pid, kind in pids.items():
        start, end = before[pid], cpu_seconds(pid)
        if start is not None and end is not None:
            used[kind] += (end - start) / elapsed
    return dict(sorted(used.items(), key=lambda item: -item[1]))
