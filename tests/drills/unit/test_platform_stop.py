"""Stopping a drill's own platform: a failed ``watertight down`` is said, with the command
that finishes the job, and never hidden."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from drills import platform
from drills.platform import PlatformError, stop_local


def test_a_platform_that_did_not_stop_is_reported_with_its_state_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def down_fails(*args: str, state_dir: Path, timeout: float = 120.0) -> str:
        raise PlatformError("`watertight down` took over 120 s")

    monkeypatch.setattr(platform, "watertight", down_fails)
    with caplog.at_level(logging.WARNING, logger="drills.platform"):
        assert asyncio.run(stop_local(tmp_path)) is False
    assert f"watertight down --state-dir {tmp_path}" in caplog.text
    assert "took over 120 s" in caplog.text


def test_a_platform_that_stopped_is_not_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def down(*args: str, state_dir: Path, timeout: float = 120.0) -> str:
        return "down: stopped 36 processes"

    monkeypatch.setattr(platform, "watertight", down)
    with caplog.at_level(logging.WARNING, logger="drills.platform"):
        assert asyncio.run(stop_local(tmp_path)) is True
    assert caplog.text == ""
