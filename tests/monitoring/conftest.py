"""Fixtures for the monitoring tests: the real promtool and prometheus binaries.

They come from Debian's ``prometheus`` package (``.ci/run`` installs it under CI). A
missing binary skips, and under ``WATERTIGHT_STRICT_SKIPS=1`` that skip fails the run.
"""

from __future__ import annotations

import pytest
from monitoring_helpers import binary


@pytest.fixture(scope="session")
def promtool() -> str:
    return binary("promtool")
