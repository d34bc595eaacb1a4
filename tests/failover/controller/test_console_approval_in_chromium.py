"""Approving from the console page, in a real headless Chromium.

The controller here is the harness's (in-memory etcd, fake unit instances) served by
uvicorn on loopback; the page, its script and the browser are real. A production outage
raises no approval, so the platform test never sees the form: this one does.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from harness import APPROVER_TOKENS, World

from failover.controller.api import create_app
from tests import chromium
from tests.serving import serving

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


@pytest.fixture
def console_url(world: World) -> Iterator[str]:
    world.cycle()
    world.cycle()
    # A closed page may leave its event stream to time out: do not wait on it at the end.
    with serving(create_app(world.runtime), graceful_shutdown_seconds=1) as url:
        yield f"{url}/console"


def test_a_person_approves_a_pending_promotion_from_the_console_with_name_and_token(
    world: World, console_url: str, tmp_path: Path
) -> None:
    playwright_api = chromium.sync_api()
    approval = world.runtime.state.new_approval(
        unit="u00", from_site="production", to_site="same-city", expected_epoch=1,
        estimated_loss=3, accepted_loss=0, reason="the copies' positions are unknown",
    )  # fmt: skip
    world.cycle()  # the view lists what the last cycle saw
    with playwright_api.sync_playwright() as playwright:
        browser = chromium.launch(playwright, tmp_path / "profile")
        try:
            page = browser.new_page()
            page.goto(console_url)
            form = page.locator(f'[data-approval="{approval.id}"] form')
            form.wait_for(timeout=30_000)
            form.locator('input[name="by"]').fill("alice")
            _submit_expecting(page, form, "wrong", "403")
            # A real approver's token does not let anyone sign in another's name.
            _submit_expecting(page, form, APPROVER_TOKENS["bob"], "403")
            assert world.runtime.state.approval(approval.id).status == "pending"  # type: ignore[union-attr]
            _submit_expecting(page, form, APPROVER_TOKENS["alice"], "granted")
        finally:
            browser.close()
    granted = world.runtime.state.approval(approval.id)
    assert granted is not None
    assert (granted.status, granted.decided_by, granted.accepted_loss) == ("granted", "alice", 3)


def _submit_expecting(page: Any, form: Any, token: str, result: str) -> None:
    """Submit the form with ``token``; wait until its result line starts with ``result``."""
    form.locator('input[name="token"]').fill(token)
    form.locator('button[type="submit"]').click()
    page.wait_for_function(
        "([f, r]) => f.querySelector('.result').textContent.startsWith(r)",
        arg=[form.element_handle(), result], timeout=10_000,
    )  # fmt: skip
