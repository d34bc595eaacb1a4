"""Suite-wide rules.

- Tests marked ``slow`` run only with ``WATERTIGHT_RUN_SLOW=1`` (``make test-all``, CI);
  otherwise they are deselected, not skipped.
- With ``WATERTIGHT_STRICT_SKIPS=1`` (set by ``.ci/run`` under ``CI=true``) a skipped test
  fails, unless it is marked ``not_in_ci("why CI cannot run it")``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# No per-example deadline: that is a wall-clock budget, which unit tests never assert
# (a loaded 2-core CI machine made one property test fail with DeadlineExceeded).
settings.register_profile("watertight", deadline=None)
settings.load_profile("watertight")

REPO = Path(__file__).resolve().parent.parent


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "not_in_ci(reason): CI cannot run this (e.g. needs kind); skips stay skips"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("WATERTIGHT_RUN_SLOW") == "1":
        return
    kept, deselected = [], []
    for item in items:
        (deselected if item.get_closest_marker("slow") else kept).append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    strict = os.environ.get("WATERTIGHT_STRICT_SKIPS") == "1"
    # An xfail is reported as "skipped" with ``wasxfail`` set, but it ran: not a skip.
    ran_as_xfail = hasattr(report, "wasxfail")
    if strict and report.skipped and not ran_as_xfail and not item.get_closest_marker("not_in_ci"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, but CI can run this test: {reason}"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO
