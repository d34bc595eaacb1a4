"""The per-thread CPU benchmark's readings: /proc per thread, and names from py-spy."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from thread_cpu import names_in_dump, thread_times

DUMP = """Process 5138: /work/main/.venv/bin/python -m infra.local.launcher_main
Python v3.11.7 (/root/.pyenv/versions/3.11.7/bin/python3.11)

Thread 5138 (active): "MainThread"
    select (selectors.py:468)
Thread 5147 (idle): "committer"
    wait (threading.py:327)
Thread 5566 (idle): "apply_0"
    _worker (concurrent/futures/thread.py:81)
Thread 5570 (active+gil): "apply_1"
    apply (app/receiver.py:105)
"""


def test_thread_names_are_read_from_a_dump_and_a_pools_threads_share_one() -> None:
    assert names_in_dump(DUMP) == {
        5138: "MainThread",
        5147: "committer",
        5566: "apply",
        5570: "apply",
    }


def test_every_thread_of_a_process_is_read_with_its_own_id() -> None:
    started, done = threading.Event(), threading.Event()
    ids: list[int] = []

    def worker() -> None:
        ids.append(threading.get_native_id())
        started.set()
        done.wait(5)

    thread = threading.Thread(target=worker)
    thread.start()
    started.wait(5)
    try:
        times = thread_times(os.getpid())
    finally:
        done.set()
        thread.join()
    assert threading.get_native_id() in times
    assert ids[0] in times
    assert all(user >= 0 and system >= 0 for user, system in times.values())
