"""Under CI=true a skip of a test CI can run is a failure; an expected failure is not a skip."""

from __future__ import annotations

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


def test_strict_skips_fail_a_skip_but_keep_an_xfail_an_xfail(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WATERTIGHT_STRICT_SKIPS", "1")
    pytester.makeconftest(CONFTEST.read_text())
    pytester.makepyfile(TESTS)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1, xfailed=1)
