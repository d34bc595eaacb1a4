"""Which library drills CI runs, and what stands in for the others.

Pure: reads the drill library and the test files, starts nothing. A new file in
``drills/library`` fails here until it is either in ``dr_helpers.CI_LIBRARY`` or given
a stand-in that CI runs (``dr_helpers.STAND_INS``).
"""

from __future__ import annotations

import pytest
from dr_helpers import CI_LIBRARY, REPO, STAND_INS, dr_library

from drills.spec import library


def test_every_library_drill_is_run_by_ci_or_has_exactly_one_stand_in() -> None:
    names = set(library())
    assert names >= CI_LIBRARY, CI_LIBRARY - names
    assert set(STAND_INS) <= names, set(STAND_INS) - names
    assert not CI_LIBRARY & set(STAND_INS), CI_LIBRARY & set(STAND_INS)
    assert CI_LIBRARY | set(STAND_INS) == names, names - CI_LIBRARY - set(STAND_INS)


@pytest.mark.parametrize("drill", sorted(STAND_INS))
def test_each_stand_in_names_a_test_function_that_exists(drill: str) -> None:
    path, function = STAND_INS[drill].split("::")
    source = (REPO / path).read_text()
    assert f"def {function}(" in source, f"{drill}: {STAND_INS[drill]} does not exist"


def test_the_mirror_stand_in_runs_the_drill_it_mirrors() -> None:
    assert "production-outage" in CI_LIBRARY  # same-city-outage's stand-in


def test_ci_runs_its_subset_and_the_full_run_every_drill(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("WATERTIGHT_DR_FULL", raising=False)
    assert dr_library() == sorted(CI_LIBRARY)
    monkeypatch.setenv("WATERTIGHT_DR_FULL", "1")
    assert dr_library() == sorted(library())
