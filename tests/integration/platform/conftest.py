"""Fixtures that run the real local platform through the real CLI."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from platform_helpers import RunningPlatform, platform_for_module


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    yield from platform_for_module(tmp_path_factory)
