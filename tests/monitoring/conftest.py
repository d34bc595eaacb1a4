"""Fixtures for the monitoring tests: the real promtool and prometheus binaries.

They come from Debian's ``prometheus`` package (``.ci/run`` installs it under CI). A
missing binary skips, and under ``WATERTIGHT_STRICT_SKIPS=1`` that skip fails the run.
"""

from __future__ import annotations

import shutil

import pytest


def binary(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} not found: apt-get install prometheus (Debian) provides it")
    return found


@pytest.fixture(scope="session")
def promtool() -> str:
    return binary("promtool")
