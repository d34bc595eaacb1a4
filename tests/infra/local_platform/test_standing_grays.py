"""Which gray faults ``heal`` must clear, read from the fault journal alone."""

from __future__ import annotations

from infra.gray_fault import standing_grays


def gray(unit: str, site: str, mode: str = "decline-all") -> dict[str, object]:
    return {"action": "gray-unit", "unit": unit, "site": site, "mode": mode}


def test_a_gray_fault_stands_until_cleared_by_mode_none_or_a_heal_that_reached_it() -> None:
    journal = [
        gray("u03", "same-city"),
        gray("u02", "production", "slow"),
        {"action": "partition", "sites": ["production", "same-city"]},
        gray("u02", "production", "none"),
    ]
    assert standing_grays(journal) == [("u03", "same-city")]
    healed = {"action": "heal", "gray_cleared": [["u03", "same-city"]]}
    assert standing_grays([*journal, healed]) == []


def test_a_heal_that_could_not_reach_an_instance_leaves_its_fault_standing() -> None:
    journal = [gray("u03", "same-city"), {"action": "heal", "gray_cleared": []}]
    assert standing_grays(journal) == [("u03", "same-city")]
    assert standing_grays([*journal, gray("u03", "same-city")]) == [("u03", "same-city")]


def test_a_journal_from_before_gray_faults_has_none_standing() -> None:
    assert standing_grays([{"action": "heal"}, {"action": "site-down", "site": "x"}]) == []
