"""Helpers that run the real local platform through the real CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[3]


def watertight(
    *args: str, env: dict[str, str] | None = None, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    """Run the CLI as a user would (``python -m watertight``)."""
    return subprocess.run(
        [sys.executable, "-m", "watertight", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, **(env or {})},
        timeout=timeout,
    )


def our_processes(state_dir: Path) -> list[int]:
    """Live processes carrying this platform's marker (a /proc scan, not pid files)."""
    marker = f"WATERTIGHT_PLATFORM_ID={state_dir.resolve()}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                stat = (entry / "stat").read_text()
                if stat.rsplit(")", 1)[-1].split()[0] != "Z":
                    found.append(int(entry.name))
        except OSError:
            continue
    return found


@dataclass
class RunningPlatform:
    state_dir: Path
    info: dict[str, Any]

    @property
    def router_url(self) -> str:
        return str(self.info["router_url"])

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return watertight(*args, "--state-dir", str(self.state_dir))

    def status(self) -> dict[str, Any]:
        result = self.cli("status", "--json")
        assert result.returncode == 0, result.stderr
        return dict(json.loads(result.stdout))


def start_platform(state_dir: Path) -> RunningPlatform:
    result = watertight("up", "--json", "--state-dir", str(state_dir))
    if result.returncode != 0:
        watertight("down", "--state-dir", str(state_dir))
        pytest.fail(f"watertight up failed: {result.stderr}")
    return RunningPlatform(state_dir, json.loads(result.stdout))


def platform_for_module(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    """The body of a module-scoped ``platform`` fixture: up in a fresh directory, down at
    the end whatever happened."""
    state_dir = tmp_path_factory.mktemp("platform")
    running = start_platform(state_dir)
    try:
        yield running
    finally:
        watertight("down", "--state-dir", str(state_dir))
