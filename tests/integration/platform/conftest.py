"""Fixtures that run the real local platform through the real CLI."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from platform_helpers import RunningPlatform, start_platform, watertight


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    state_dir = tmp_path_factory.mktemp("platform")
    running = start_platform(state_dir)
    try:
        yield running
    finally:
        watertight("down", "--state-dir", str(state_dir))
