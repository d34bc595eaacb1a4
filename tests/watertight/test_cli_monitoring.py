"""``watertight monitoring prometheus-config`` prints a config for the recorded platform."""

from __future__ import annotations

import time
from pathlib import Path

import yaml
from typer.testing import CliRunner

from infra.local.state import PlatformState, ProcessRecord
from watertight.cli import cli

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "monitoring" / "prometheus" / "rules.yml"


def save_record(state_dir: Path, stopped: bool = False) -> None:
    state = PlatformState(
        state_dir=str(state_dir),
        topology_file="topology.yaml",
        topology_name="t",
        sites=["production"],
        router_url="http://127.0.0.1:9000",
        proxy_control_url="http://127.0.0.1:9001",
        etcd_client_urls={"production": "http://127.0.0.1:9002"},
        credentials_dir="credentials",
        stopped_at=time.time() if stopped else None,
    )
    env = {"WATERTIGHT_PORT": "9000"}
    state.processes["router"] = ProcessRecord("router", ["python"], env, None, None, "router")
    state.save(state_dir)


def test_the_config_scrapes_the_recorded_platform_and_loads_the_rules(tmp_path: Path) -> None:
    save_record(tmp_path)
    args = ["--state-dir", str(tmp_path), "--rules", str(RULES), "--interval", "2"]
    result = CliRunner().invoke(cli, ["monitoring", "prometheus-config", *args])
    assert result.exit_code == 0, result.output
    config = yaml.safe_load(result.output)
    assert config["rule_files"] == [str(RULES)]
    assert config["global"]["scrape_interval"] == "2s"
    jobs = {job["job_name"] for job in config["scrape_configs"]}
    assert jobs == {"watertight-router", "watertight-etcd", "watertight-linkproxy"}


def test_a_stopped_platform_or_a_missing_rules_file_is_refused(tmp_path: Path) -> None:
    save_record(tmp_path, stopped=True)
    stopped = CliRunner().invoke(
        cli,
        ["monitoring", "prometheus-config", "--state-dir", str(tmp_path), "--rules", str(RULES)],
    )
    assert stopped.exit_code == 1
    assert "`watertight up` restarts it" in stopped.output
    missing = CliRunner().invoke(
        cli,
        ["monitoring", "prometheus-config", "--state-dir", str(tmp_path), "--rules", "nope.yml"],
    )
    assert missing.exit_code == 1
    assert "--rules nope.yml: no such file" in missing.output
