"""The Grafana dashboard without a server: every expression parses (promtool checks it
as a recording rule) and names only series some component exports. The slow test in
test_prometheus_scrapes_the_platform.py checks the same against a real Prometheus."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import yaml
from monitoring_helpers import DASHBOARD, exported_names, series_names


def expressions() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]


def test_promtool_parses_every_dashboard_expression(promtool: str, tmp_path: Path) -> None:
    rules = [{"record": f"dashboard:expr_{i}", "expr": e} for i, e in enumerate(expressions())]
    rule_file = tmp_path / "dashboard-rules.yml"
    rule_file.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = subprocess.run(
        [promtool, "check", "rules", str(rule_file)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_dashboard_expression_names_only_exported_series() -> None:
    exported = exported_names()
    for expr in expressions():
        names = series_names(expr)
        assert names, expr
        assert names <= exported, (expr, names - exported)


def test_every_panel_but_rows_has_a_title_a_description_and_a_query() -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        if panel["type"] != "row":
            assert panel["title"] and panel["description"] and panel["targets"], panel["id"]
