"""A real Prometheus, configured by ``watertight monitoring prometheus-config``, scrapes
every component of a real local platform, evaluates the shipped rules, and the site-down
alert fires when a site goes down. Slow (a platform)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from monitoring_helpers import (
    DASHBOARD,
    NOT_EXPORTED_YET,
    PRESENT_ONLY_WHILE_WARNING,
    RULES,
    alerting_rules,
    binary,
    series_names,
)
from prometheus_server import PrometheusServer, running_prometheus

from infra.local.state import PlatformState

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration" / "controller"))

from controller_helpers import (
    BODY,
    RunningPlatform,
    all_sites_up,
    start_platform,
    wait_for,
    watertight,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(900)]

#: Scrape and evaluate every second, so the test waits seconds, not minutes.
INTERVAL_SECONDS = 1.0


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    prometheus_binary = binary("prometheus")  # before the platform: skip cheaply
    assert prometheus_binary
    running = start_platform(tmp_path_factory.mktemp("platform") / "p")
    try:
        yield running
    finally:
        watertight("down", "--state-dir", str(running.state_dir))


@pytest.fixture(scope="module")
def prometheus(
    platform: RunningPlatform, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PrometheusServer]:
    args = ["--rules", str(RULES), "--interval", str(INTERVAL_SECONDS)]
    printed = platform.cli("monitoring", "prometheus-config", *args)
    assert printed.returncode == 0, printed.stderr
    config = yaml.safe_load(printed.stdout)
    directory = tmp_path_factory.mktemp("prometheus")
    with running_prometheus(binary("prometheus"), config, directory) as server:
        yield server


def expected_targets(platform: RunningPlatform) -> int:
    state = PlatformState.load(platform.state_dir)
    kinds = [p.kind for p in state.processes.values()]
    return sum(kinds.count(k) for k in ("unit", "controller", "observer", "router", "etcd")) + 1


def test_prometheus_scrapes_every_component_and_every_target_is_up(
    platform: RunningPlatform, prometheus: PrometheusServer
) -> None:
    def all_up() -> list[dict[str, object]] | None:
        targets = prometheus.active_targets()
        if len(targets) == expected_targets(platform) and all(t["health"] == "up" for t in targets):
            return targets
        return None

    targets = wait_for("every target up", all_up, timeout=60)
    jobs = {str(t["labels"]["job"]) for t in targets}
    assert jobs == {
        "watertight-unit",
        "watertight-controller",
        "watertight-observer",
        "watertight-router",
        "watertight-etcd",
        "watertight-linkproxy",
    }


def test_every_series_a_rule_reads_is_scraped_from_the_platform(
    platform: RunningPlatform, prometheus: PrometheusServer
) -> None:
    wait_for("a leader and three healthy sites", lambda: all_sites_up(platform))
    for rule in alerting_rules():
        for name in series_names(rule["expr"]) & PRESENT_ONLY_WHILE_WARNING:
            wait_for(
                f"metadata of {name} (rule {rule['alert']})",
                lambda name=name: prometheus.api("metadata", metric=name),
                timeout=30,
            )
        for name in series_names(rule["expr"]) - NOT_EXPORTED_YET - PRESENT_ONLY_WHILE_WARNING:
            wait_for(
                f"series {name} (rule {rule['alert']})",
                lambda name=name: prometheus.query(f"count({{__name__={name!r}}})"),
                timeout=30,
            )
    assert not any(prometheus.query(f"count({{__name__={n!r}}})") for n in NOT_EXPORTED_YET)


def test_a_site_outage_fires_site_down_for_that_site_alone(
    platform: RunningPlatform, prometheus: PrometheusServer
) -> None:
    wait_for("a leader and three healthy sites", lambda: all_sites_up(platform))
    assert prometheus.firing("WatertightSiteDown") == []
    assert platform.cli("fault", "site-down", "production").returncode == 0
    firing = wait_for(
        "WatertightSiteDown firing", lambda: prometheus.firing("WatertightSiteDown"), timeout=90
    )
    assert [(a["site"], a["severity"]) for a in firing] == [("production", "critical")]


def test_after_an_outage_every_dashboard_expression_evaluates_and_names_series_that_exist(
    platform: RunningPlatform, prometheus: PrometheusServer
) -> None:
    # Runs after the outage above: some series exist only once something happened (the
    # last detection time of a site) or once the router forwarded a request.
    headers = {"Idempotency-Key": "monitoring-1"}
    url = f"{platform.router_url}/v1/customers/monitoring/transactions"
    httpx.post(url, json=BODY, headers=headers, timeout=10)
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    expressions = [
        target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])
    ]
    assert len(expressions) >= 20
    for expr in expressions:
        prometheus.query(expr)  # raises with Prometheus's parse error if it does not parse
        names = series_names(expr)
        assert names, expr
        for name in names:
            wait_for(
                f"series {name} (dashboard: {expr})",
                lambda name=name: prometheus.query(f"count({{__name__={name!r}}})"),
                timeout=30,
            )
