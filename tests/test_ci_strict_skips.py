"""Under CI=true a skip of a test CI can run is a failure; an expected failure is not a skip."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

CONFTEST = Path(__file__).with_name("conftest.py")
TESTS = """
import pytest

@pytest.mark.xfail(reason="known flaky", strict=False)
def test_known_flaky() -> None:
    assert False

def test_skipped() -> None:
    pytest.skip("no database")
"""

TWO_TESTS = "def test_first() -> None:\n    pass\n\n\ndef test_second() -> None:\n    pass\n"


def test_strict_skips_fail_a_skip_but_keep_an_xfail_an_xfail(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WATERTIGHT_STRICT_SKIPS", "1")
    pytester.makeconftest(CONFTEST.read_text())
    pytester.makepyfile(TESTS)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1, xfailed=1)


def test_a_passed_ci_deadline_stops_the_run_before_the_next_test_as_interrupted(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WATERTIGHT_STRICT_SKIPS", raising=False)
    monkeypatch.setenv("WATERTIGHT_CI_DEADLINE", str(time.time() - 5))
    pytester.makeconftest(CONFTEST.read_text())
    pytester.makepyfile(TWO_TESTS)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*CI deadline passed * s ago (WATERTIGHT_CI_DEADLINE)*"])


def test_a_ci_deadline_ahead_lets_every_test_run(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WATERTIGHT_STRICT_SKIPS", raising=False)
    monkeypatch.setenv("WATERTIGHT_CI_DEADLINE", str(time.time() + 3600))
    pytester.makeconftest(CONFTEST.read_text())
    pytester.makepyfile(TWO_TESTS)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    assert result.ret == pytest.ExitCode.OK
