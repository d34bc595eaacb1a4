"""Shared helpers of the chart tests (a unique module name: tests have no packages)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "watertight"
SITES = ("production", "same-city", "remote-dr")
KUBE_VERSION = "1.31.0"
"""The pinned Kubernetes version every rendered manifest is validated against."""

Helm = Callable[..., subprocess.CompletedProcess[str]]


def render(helm: Helm, site_args: Sequence[str]) -> list[dict[str, Any]]:
    """Render the chart with the real helm; fail the test with helm's stderr otherwise."""
    done = helm(
        "template",
        "watertight",
        str(CHART),
        "--namespace",
        "watertight",
        "--kube-version",
        KUBE_VERSION,
        *site_args,
    )
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]
