"""The alert rules: valid for the real promtool, behaving as their unit tests say, and
reading only series that watertight exports."""

from __future__ import annotations

import subprocess

from monitoring_helpers import (
    NOT_EXPORTED_YET,
    PROMETHEUS_OWN,
    RULES,
    RULES_TEST,
    alerting_rules,
    exported_names,
    series_names,
)

ALERTS = {
    "WatertightSiteDown",
    "WatertightSiteSuspect",
    "WatertightUnitWithoutWritablePrimary",
    "WatertightReplicationLagHigh",
    "WatertightApprovalPending",
    "WatertightFrozen",
    "WatertightTrendWarning",
}


def run(promtool: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=RULES.parent,
    )


def test_promtool_check_rules_accepts_the_rules_file(promtool: str) -> None:
    result = run(promtool, "check", "rules", RULES.name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_fires_and_stays_quiet_as_promtool_test_rules_expects(promtool: str) -> None:
    result = run(promtool, "test", "rules", RULES_TEST.name)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_the_issue_names_exists_with_a_for_a_severity_and_both_annotations() -> None:
    rules = {rule["alert"]: rule for rule in alerting_rules()}
    assert rules.keys() >= ALERTS
    for name, rule in rules.items():
        assert rule.get("for"), name
        assert rule["labels"]["severity"] in {"critical", "warning"}, name
        assert rule["annotations"].keys() >= {"summary", "description"}, name


def test_every_alert_is_exercised_by_the_rules_unit_tests() -> None:
    tested = RULES_TEST.read_text(encoding="utf-8")
    for rule in alerting_rules():
        assert f"alertname: {rule['alert']}\n" in tested, rule["alert"]


def test_every_series_a_rule_reads_is_exported_by_a_component() -> None:
    exported = exported_names() | PROMETHEUS_OWN
    for rule in alerting_rules():
        names = series_names(rule["expr"])
        assert names, rule["alert"]
        assert names - NOT_EXPORTED_YET <= exported, (rule["alert"], names - exported)


def test_the_series_not_exported_yet_really_are_not() -> None:
    exported = NOT_EXPORTED_YET & exported_names()
    assert not exported, f"{exported} exist now: drop them from NOT_EXPORTED_YET and the docs"
