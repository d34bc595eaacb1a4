"""Debian's ``chromium``, headless with a fresh profile, driven by Playwright.

Only Playwright's Python package is used: no browser is downloaded; ``.ci/run``
installs Debian's ``chromium`` (``install_chromium``). A test that needs it skips
without it, which ``CI=true`` turns into a failure (tests/conftest.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
# The network here is closed: without the background-networking flags Chromium waits
# on requests that never answer.
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


def sync_api() -> Any:
    """``playwright.sync_api``; skips the test without chromium or Playwright."""
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    return pytest.importorskip("playwright.sync_api")


def launch(playwright: Any, profile: Path) -> Any:
    """A headless Chromium with a fresh profile in ``profile`` (a persistent context)."""
    return playwright.chromium.launch_persistent_context(
        str(profile), executable_path=str(CHROMIUM), headless=True, args=FLAGS,
        viewport={"width": 1400, "height": 900},
    )  # fmt: skip
