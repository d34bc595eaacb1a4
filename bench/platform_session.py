"""A local platform for a benchmark: ``watertight up`` in a temp dir, ``down`` at the end."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


@contextmanager
def local_platform(*, tls: bool = False) -> Iterator[dict[str, Any]]:
    """Yield ``up --json`` output plus ``state`` (platform.json); always runs ``down``.
    ``tls``: ``up --tls`` (mutual TLS between sites).

    ``down`` keeps a platform's data for a later ``up``; a benchmark's platform is
    thrown away, so its state directory is removed after ``down``.
    """
    state_dir = Path(tempfile.mkdtemp(prefix="watertight-bench-"))
    cli = [sys.executable, "-m", "watertight"]
    print(f"starting the local platform in {state_dir} ...", flush=True)
    started = subprocess.run(
        [*cli, "up", "--json", "--state-dir", str(state_dir), *(["--tls"] if tls else [])],
        capture_output=True, text=True, cwd=REPO, check=False,
    )  # fmt: skip
    try:
        if started.returncode != 0:
            raise SystemExit(f"watertight up failed: {started.stderr}")
        info = json.loads(started.stdout)
        info["state"] = json.loads((state_dir / "platform.json").read_text())
        yield info
    finally:
        stopped = subprocess.run(
            [*cli, "down", "--state-dir", str(state_dir)], cwd=REPO, check=False
        )
        if stopped.returncode == 0:
            shutil.rmtree(state_dir, ignore_errors=True)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]
