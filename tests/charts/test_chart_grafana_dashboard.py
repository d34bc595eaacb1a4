"""The chart ships the Grafana dashboard, byte for byte, where the sidecar finds it."""

from __future__ import annotations

import json
from typing import Any

from chart_helpers import CHART, SITES, Helm, render

DASHBOARD = CHART / "files" / "dashboards" / "watertight.json"


def dashboard_maps(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        d
        for d in docs
        if d["kind"] == "ConfigMap" and d["metadata"]["name"].endswith("-grafana-dashboard")
    ]


def test_every_site_ships_the_dashboard_file_with_the_sidecar_label(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    for site in SITES:
        (config_map,) = dashboard_maps(rendered[site])
        assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert config_map["data"]["watertight.json"] == DASHBOARD.read_text().rstrip("\n")
        assert json.loads(config_map["data"]["watertight.json"])["uid"] == "watertight-overview"


def test_the_dashboard_can_be_left_out(helm: Helm) -> None:
    values = ["-f", str(CHART / "values-production.yaml")]
    docs = render(helm, [*values, "--set", "grafanaDashboard.enabled=false"])
    assert dashboard_maps(docs) == []
