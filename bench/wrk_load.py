"""The benchmarks' load: wrk (a C load generator; Debian's ``wrk``) driving closed-loop
clients through a router, each write a purchase or a payment of 1 for a random one of
``customers`` customers under a fresh ``Idempotency-Key``; and the cores each kind of
process used meanwhile. Shared by ``bench/capacity.py`` and ``bench/floor.py``, so the
product and its floor are measured under exactly the same load.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from process_cpu import cores_by_kind

WRK_SCRIPT = """
local threads, next_tid = {}, 0
function setup(thread)
  thread:set("tid", next_tid)
  next_tid = next_tid + 1
  table.insert(threads, thread)
end
-- Globals, not chunk-level locals: setup()'s thread:set("tid", ...) sets the thread's
-- global, which a local of the same name would shadow in request() and init().
counter, replays, tid = 0, 0, tid or 0
function init(args) math.randomseed(os.time() * 1000 + tid) end
request = function()
  counter = counter + 1
  local customer = math.random(0, CUSTOMERS - 1)
  local kind = (counter % 4 == 0) and "payment" or "purchase"
  local body = '{"type":"' .. kind .. '","amount_minor":1,"currency":"CNY"}'
  local key = RUN .. "-" .. tid .. "-" .. counter
  return wrk.format("POST", "/v1/customers/c" .. customer .. "/transactions",
    {["Content-Type"] = "application/json", ["Idempotency-Key"] = key}, body)
end
response = function(status, headers, body)
  if status == 200 then replays = replays + 1 end
end
done = function(summary, latency, requests)
  local replayed = 0
  for _, thread in ipairs(threads) do replayed = replayed + thread:get("replays") end
  io.write(string.format(
    "WT p50_us=%d p99_us=%d requests=%d status_errors=%d timeouts=%d replays=%d\\n",
    latency:percentile(50), latency:percentile(99), summary.requests,
    summary.errors.status, summary.errors.timeout, replayed))
end
"""
RESULT_LINE = re.compile(
    r"WT p50_us=(\d+) p99_us=(\d+) requests=(\d+) status_errors=(\d+) timeouts=(\d+)"
    r" replays=(\d+)"
)


def run_wrk(router_url: str, connections: int, seconds: int, customers: int) -> dict[str, Any]:
    if shutil.which("wrk") is None:
        raise SystemExit("the capacity benchmark needs wrk: apt-get install wrk")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        # Keys are unique per run, thread and request: a repeated key would be a replay.
        script.write(f'CUSTOMERS = {customers}\nRUN = "{uuid.uuid4().hex}"\n{WRK_SCRIPT}')
    done = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "-s",
         script.name, router_url],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    Path(script.name).unlink()
    match = RESULT_LINE.search(done.stdout)
    if match is None:
        raise SystemExit(f"wrk printed no result line:\n{done.stdout}\n{done.stderr}")
    p50_us, p99_us, requests, status_errors, timeouts, replays = map(int, match.groups())
    if replays > requests // 100:
        # Every key is sent once: a replay (200) here means the load repeated keys, and
        # its "writes" would count the same write twice.
        raise SystemExit(
            f"wrk: {replays} of {requests} answers were replays (200): the load repeats "
            "Idempotency-Keys, so its figure would count writes twice"
        )
    acknowledged = requests - status_errors
    return {
        "acknowledged_per_second": acknowledged / seconds,
        "p50_ms": p50_us / 1000,
        "p99_ms": p99_us / 1000,
        "failed": status_errors,
        "timeouts": timeouts,
        "replays": replays,
        "connections": connections,
        "seconds": seconds,
        "customers": customers,
    }


def load_with_cpu(
    url: str, pids: Mapping[int, str], connections: int, seconds: int, customers: int
) -> tuple[dict[str, Any], dict[str, float]]:
    """:func:`run_wrk` against ``url``, and the cores each kind of process in ``pids``
    used meanwhile: the CPU window sits inside the load window, skipping wrk's first
    second."""
    cores: dict[str, float] = {}

    def sample() -> None:
        time.sleep(1.0)
        cores.update(cores_by_kind(pids, max(1.0, seconds - 2.0)))

    sampler = threading.Thread(target=sample)
    sampler.start()
    load = run_wrk(url, connections, seconds, customers)
    sampler.join()
    return load, cores


def print_cores(label: str, cores: Mapping[str, float], rate: float) -> None:
    """The cores each kind used under load, and so its CPU milliseconds per write at
    ``rate`` acknowledged writes/s."""
    rate = max(rate, 1e-9)
    total = sum(cores.values())
    print(f"{label} under load: {total:.2f} cores ({total / rate * 1000:.2f} ms CPU per write)")
    for kind, used in cores.items():
        print(f"  {kind:<10} {used:.3f} cores  {used / rate * 1000:6.2f} ms/write")


def add_load_arguments(parser: argparse.ArgumentParser) -> None:
    """``--seconds``, ``--connections`` and ``--customers``: the load, the same defaults
    for every benchmark that drives it."""
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--customers", type=int, default=2000)
