"""Running the real Pulumi program under mocks, one process per stack
(``pulumi_stack_driver.py``), and reading what it printed. Shared by the stack tests."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
DRIVER = HERE / "pulumi_stack_driver.py"
STACKS = ("production", "same-city", "remote-dr")

Run = dict[str, Any]


def run_stacks(
    stacks: tuple[str, ...] = STACKS, overrides: Mapping[str, list[str]] | None = None
) -> dict[str, subprocess.CompletedProcess[str]]:
    """Each stack's driver run, all at once; ``overrides`` gives a stack's
    ``KEY=VALUE`` config overrides."""
    procs = {
        stack: subprocess.Popen(
            [sys.executable, str(DRIVER), stack, *(overrides or {}).get(stack, [])],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )
        for stack in stacks
    }
    done = {}
    for stack, proc in procs.items():
        out, err = proc.communicate(timeout=180)
        done[stack] = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    return done


def result_of(done: subprocess.CompletedProcess[str]) -> Run:
    """The driver's ``RESULT`` line: the resources and exports the program made."""
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(line for line in done.stdout.splitlines() if line.startswith("RESULT "))
    result: Run = json.loads(line.removeprefix("RESULT "))
    return result


def k8s(run: Run, kind: str) -> list[dict[str, Any]]:
    """The Kubernetes resources of ``kind`` the run created."""
    return [
        r
        for r in run["resources"]
        if r["type"].startswith("kubernetes:") and r["type"].endswith(f":{kind}")
    ]
