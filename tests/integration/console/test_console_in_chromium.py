"""The live console in a real headless Chromium during a production-outage drill.

Real processes throughout: ``watertight up`` starts the three sites, the library's
``production-outage`` drill runs against them through the CLI (``--attach``), and
Debian's ``chromium`` (driven by Playwright over its pipe, with a fresh profile; no
browser is downloaded) opens the ``console_url`` that ``up --json`` printed. The test
reads the rendered page (its ``data-*`` attributes): production must be shown down and
every even unit primary in same-city at a newer epoch, the odd units untouched. A
screenshot of that moment goes to ``reports/console/console.png`` (the one in
docs/images/ comes from such a run).

The drill offers ``DRILL_RATE`` writes/s (``drill run --rate``), not the library's 50:
the browser shares the 2 cores, and what is judged here is the page, not the drill's
timing. A drill that aborts before its fault (its steady state not met on two loaded
cores) never takes production down, so the console has nothing to show: it is run once
more, as the DR suite re-runs a library drill. The drill's own verdict is not judged here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import chromium

REPO = Path(__file__).resolve().parents[3]
SCREENSHOT = REPO / "reports" / "console" / "console.png"
SEEN_WITHIN_MS = 120_000  # the fault comes ~10 s into the load, the move within 8 s of it
DRILL_ATTEMPTS = 2
DRILL_RATE = 12

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]


def watertight(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "watertight", *args],
        cwd=REPO, capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    state_dir = tmp_path / "platform"
    try:
        started = watertight("up", "--json", "--state-dir", str(state_dir))
        if started.returncode != 0:  # a free port may be taken by another process meanwhile
            watertight("down", "--state-dir", str(state_dir), timeout=120)
            shutil.rmtree(state_dir, ignore_errors=True)
            started = watertight("up", "--json", "--state-dir", str(state_dir))
        assert started.returncode == 0, started.stderr[-3000:]
        yield state_dir, json.loads(started.stdout)
    finally:
        watertight("down", "--state-dir", str(state_dir), timeout=120)


def test_the_console_shows_production_go_down_and_the_even_units_move(
    platform: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    playwright_api = chromium.sync_api()
    state_dir, info = platform
    console_url = info["console_url"]
    assert console_url.endswith("/console"), info
    placed = json.loads(watertight("topology", "show", "--json").stdout)["units"]
    even = [u["unit"] for u in placed if u["primary"] == "production"]  # u00, u02, …
    odd = [u["unit"] for u in placed if u["primary"] == "same-city"]
    assert even and odd, placed

    with playwright_api.sync_playwright() as playwright:
        browser = chromium.launch(playwright, tmp_path / "chromium-profile")
        drill: subprocess.Popen[str] | None = None
        try:
            page = browser.new_page()
            page.goto(console_url)
            page.wait_for_selector('#connection[data-connected="true"]', timeout=30_000)
            for attempt in range(1, DRILL_ATTEMPTS + 1):
                page.wait_for_selector('[data-site="production"][data-state="up"]',
                                       timeout=SEEN_WITHIN_MS)  # fmt: skip
                for unit in even:
                    row = f'tr[data-unit="{unit}"]'
                    assert page.get_attribute(row, "data-primary") == "production"
                drill = start_drill(state_dir, tmp_path / f"attempt-{attempt}")
                if shown(page, '[data-site="production"][data-state="down"]', drill):
                    break
                # Aborted before its fault (its steady state not met on two loaded
                # cores, say): the console never had anything to show. Once more.
                drill.wait(timeout=300)
                print(f"attempt {attempt}: {verdict(tmp_path / f'attempt-{attempt}')}")
            else:
                pytest.fail(f"the drill never took production down in {DRILL_ATTEMPTS} runs")
            # The drill's own step, in the timeline beside the verdicts it caused.
            note = '#timeline li[data-kind="drill_note"]:has-text("site-down production")'
            assert shown(page, note, drill), "the drill's site-down step never shown"
            for unit in even:
                selector = f'tr[data-unit="{unit}"][data-primary="same-city"]'
                assert shown(page, selector, drill), f"{unit} never shown in same-city"
            rows = {
                unit: (
                    page.get_attribute(f'tr[data-unit="{unit}"]', "data-primary"),
                    int(page.get_attribute(f'tr[data-unit="{unit}"]', "data-epoch") or 0),
                )
                for unit in even + odd
            }
            assert all(rows[u][1] >= 2 for u in even), rows
            assert all(rows[u] == ("same-city", 1) for u in odd), rows
            assert page.locator('#timeline li[data-kind="promoted"]').count() >= len(even)
            time.sleep(2)  # a few more points on the sparklines for the picture
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOT), full_page=True)
        finally:
            browser.close()
            if drill is not None:
                # Let the drill finish: its rollbacks bring production back before `down`.
                try:
                    drill.wait(timeout=300)
                except subprocess.TimeoutExpired:
                    drill.kill()
                    drill.wait()
    # The drill's own verdict (RTO on two shared cores) is the DR suite's business; here
    # it only has to have run to its end, rollbacks included.
    assert drill is not None and drill.returncode in (0, 1, 2), drill.returncode


def start_drill(state_dir: Path, workdir: Path) -> subprocess.Popen[str]:
    """``watertight drill run production-outage`` attached to the platform, in the
    background; its report and stderr go to ``workdir``."""
    workdir.mkdir()
    with (workdir / "drill.stderr").open("w") as log:  # a file: a pipe could fill up
        return subprocess.Popen(
            [sys.executable, "-m", "watertight", "drill", "run", "production-outage",
             "--attach", str(state_dir), "--rate", str(DRILL_RATE),
             "--report-dir", str(workdir / "report"), "--json"],
            cwd=REPO, stdout=subprocess.DEVNULL, stderr=log, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip


def verdict(workdir: Path) -> str:
    report = workdir / "report" / "report.json"
    if not report.exists():
        return f"no report; stderr: {(workdir / 'drill.stderr').read_text()[-2000:]}"
    data = json.loads(report.read_text())
    return f"{data['verdict']} {data.get('abort_reason') or ''}".strip()


def shown(page: Any, selector: str, drill: subprocess.Popen[str]) -> bool:
    """Whether ``selector`` appears on the page within :data:`SEEN_WITHIN_MS`, or before
    the drill ends (and a last few views after it)."""
    deadline = time.monotonic() + SEEN_WITHIN_MS / 1000
    while time.monotonic() < deadline:
        if page.locator(selector).count():
            return True
        if drill.poll() is not None:
            page.wait_for_timeout(3000)  # the page's last views may still be on their way
            return bool(page.locator(selector).count())
        page.wait_for_timeout(250)
    return False
