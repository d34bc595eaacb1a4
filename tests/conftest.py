"""Suite-wide rules.

- Tests marked ``slow`` run only with ``WATERTIGHT_RUN_SLOW=1`` (``make test-all``, CI);
  otherwise they are deselected, not skipped.
- With ``WATERTIGHT_STRICT_SKIPS=1`` (set by ``.ci/run`` under ``CI=true``) a skipped test
  fails, unless it is marked ``not_in_ci("why CI cannot run it")``.
- With ``WATERTIGHT_CI_DEADLINE`` (Unix seconds; ``.ci/run`` sets it) no test starts after
  the deadline: the run stops there, says so, and exits 2 (interrupted). CI's own time
  limit kills a run without a summary; stopping first keeps the summary and
  ``--durations`` in the log, so the next person sees where the time went.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from failover.log_format import HANDLER_NAME, UVICORN_LOGGERS
from failover.tls import ENV as TLS_IDENTITY

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


def deadline_passed(now: float) -> str | None:
    """Why no further test may start at ``now``, or None while ``WATERTIGHT_CI_DEADLINE``
    (Unix seconds) is unset or still ahead."""
    deadline = os.environ.get("WATERTIGHT_CI_DEADLINE")
    if not deadline or now < float(deadline):
        return None
    over = now - float(deadline)
    return f"CI deadline passed {over:.0f} s ago (WATERTIGHT_CI_DEADLINE): the rest is not run"


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
    if call.when == "teardown" and (why := deadline_passed(time.time())) is not None:
        item.session.shouldstop = why  # pytest then ends the run as interrupted (status 2)


@pytest.fixture(autouse=True)
def logging_as_it_was() -> Iterator[None]:
    """A test that runs a program's ``main`` (or ``configure_logging``) changes the process's
    logging: undo it, so later tests keep pytest's capture and uvicorn's own loggers.

    pytest installs fresh capture handlers for each test phase and removes them itself, so
    only the handler the setup installed is taken off the root, never put back a list."""
    root = logging.getLogger()
    level, hooks = root.level, (sys.excepthook, threading.excepthook)
    uvicorn = {name: logging.getLogger(name) for name in UVICORN_LOGGERS}
    saved = {name: (list(lg.handlers), lg.propagate) for name, lg in uvicorn.items()}
    yield
    for handler in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:
        root.removeHandler(handler)
    root.setLevel(level)
    sys.excepthook, threading.excepthook = hooks
    logging.captureWarnings(False)
    for name, (handlers, propagate) in saved.items():
        uvicorn[name].handlers[:] = handlers
        uvicorn[name].propagate = propagate


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(autouse=True)
def no_tls_identity_left_behind() -> Iterator[None]:
    """A test that drives a TLS platform in-process (``act_as_operator``) must undo the
    identity it set: every later ``watertight`` subprocess would inherit it, and a plain
    platform's CLI would then look for certificates that no longer exist."""
    before = os.environ.get(TLS_IDENTITY)
    yield
    after = os.environ.get(TLS_IDENTITY)
    assert after == before, f"the test left {TLS_IDENTITY}={after!r} in the environment"
