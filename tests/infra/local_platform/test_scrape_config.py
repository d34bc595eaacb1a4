"""The Prometheus configuration built from a platform's record names every component."""

from __future__ import annotations

from typing import Any

from infra.local.scrape_config import scrape_config
from infra.local.state import PlatformState, ProcessRecord


def record() -> PlatformState:
    state = PlatformState(
        state_dir="/tmp/p",
        topology_file="topology.yaml",
        topology_name="t",
        sites=["production", "remote-dr"],
        router_url="http://127.0.0.1:9000",
        proxy_control_url="http://127.0.0.1:9001",
        etcd_client_urls={
            "production": "http://127.0.0.1:9002",
            "remote-dr": "http://127.0.0.1:9003",
        },
        credentials_dir="credentials",
    )

    def add(
        name: str, kind: str, env: dict[str, str], site: str | None, unit: str | None = None
    ) -> None:
        state.processes[name] = ProcessRecord(name, ["python"], env, site, None, kind, unit)

    add("unit-u00-production", "unit", {"WATERTIGHT_PORT": "9010"}, "production", "u00")
    add("controller-remote-dr", "controller", {"WATERTIGHT_PORT": "9020"}, "remote-dr")
    add("observer-remote-dr", "observer", {"WATERTIGHT_METRICS_PORT": "9030"}, "remote-dr")
    add("observer-production", "observer", {}, "production")  # recorded before metrics
    add("router", "router", {"WATERTIGHT_PORT": "9000"}, None)
    add("etcd-production", "etcd", {}, "production")
    return state


def jobs(config: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    return {job["job_name"]: job["static_configs"] for job in config["scrape_configs"]}


def test_every_component_is_a_target_of_its_own_job() -> None:
    config = scrape_config(record(), ["/rules.yml"], 1.0)
    assert config["global"] == {"scrape_interval": "1s", "evaluation_interval": "1s"}
    assert config["rule_files"] == ["/rules.yml"]
    targets = {job: [t["targets"][0] for t in static] for job, static in jobs(config).items()}
    assert targets == {
        "watertight-unit": ["127.0.0.1:9010"],
        "watertight-controller": ["127.0.0.1:9020"],
        "watertight-observer": ["127.0.0.1:9030"],
        "watertight-router": ["127.0.0.1:9000"],
        "watertight-etcd": ["127.0.0.1:9002", "127.0.0.1:9003"],
        "watertight-linkproxy": ["127.0.0.1:9001"],
    }


def test_only_unit_targets_carry_unit_and_site_labels() -> None:
    config = jobs(scrape_config(record()))
    assert config["watertight-unit"][0]["labels"] == {
        "process": "unit-u00-production",
        "unit": "u00",
        "site": "production",
    }
    assert config["watertight-controller"][0]["labels"] == {"process": "controller-remote-dr"}
    assert config["watertight-observer"][0]["labels"] == {"process": "observer-remote-dr"}
