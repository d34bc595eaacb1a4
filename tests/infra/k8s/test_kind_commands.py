"""``watertight kind ...``: argument handling, missing tools, and the commands it plans.

kind, a Kubernetes API and Pulumi's CLI do not exist here (docs/design.md §7), so the tools are
stand-in scripts on PATH that record how they were called.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from infra.kind import rehearsal
from watertight.commands.kind import group

FAKE_TOOL = """#!/bin/sh
# Only shell built-ins: PATH holds nothing but the stand-in tools.
tool=${0##*/}
env="|net=$KIND_EXPERIMENTAL_DOCKER_NETWORK|backend=$PULUMI_BACKEND_URL"
echo "$tool $* $env" >> "$TOOL_LOG"
case "$tool $1 $2" in
  "kind get clusters") echo production ;;
  "docker network inspect") exit 1 ;;
  "pulumi config set") IFS= read -r line || true; echo "$line" >> "$TOOL_LOG.stdin" ;;
esac
exit 0
"""


@pytest.fixture
def tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """An empty PATH directory (add tools with ``install``) and the log they write."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "tools.log"
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setenv("TOOL_LOG", str(log))
    monkeypatch.delenv("PULUMI_CONFIG_PASSPHRASE", raising=False)
    monkeypatch.setattr(rehearsal, "PREFERRED_PATHS", {})
    return bin_dir, log


def install(bin_dir: Path, *names: str) -> None:
    for name in names:
        script = bin_dir / name
        script.write_text(FAKE_TOOL, encoding="utf-8")
        script.chmod(script.stat().st_mode | stat.S_IEXEC)


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(group, list(args))
    return result.exit_code, result.output + (result.stderr if result.stderr_bytes else "")


def test_kind_up_without_docker_says_where_to_install_it(tools: tuple[Path, Path]) -> None:
    code, output = invoke("up")
    assert code == 1
    assert "docker not found on PATH; install from https://docs.docker.com" in output


def test_kind_up_without_kind_says_where_to_install_it(tools: tuple[Path, Path]) -> None:
    install(tools[0], "docker")
    code, output = invoke("up")
    assert code == 1
    assert (
        "kind not found on PATH; install from "
        "https://kind.sigs.k8s.io/docs/user/quick-start/#installation" in output
    )


def test_kind_deploy_without_pulumi_says_where_to_install_it(
    tools: tuple[Path, Path], tmp_path: Path
) -> None:
    code, output = invoke("deploy", "--state-dir", str(tmp_path / "state"))
    assert code == 1
    assert "pulumi not found on PATH; install from https://www.pulumi.com/docs/install/" in output


def test_an_unknown_site_is_refused_naming_the_known_ones(tools: tuple[Path, Path]) -> None:
    code, output = invoke("down", "--site", "prod")
    assert code == 1
    assert "unknown site 'prod'; kind configs exist for production, same-city, remote-dr" in output


def test_kind_up_creates_the_network_and_only_the_missing_clusters(
    tools: tuple[Path, Path],
) -> None:
    bin_dir, log = tools
    install(bin_dir, "docker", "kind")
    code, output = invoke("up")
    assert code == 0, output
    calls = log.read_text().splitlines()
    assert any(
        c.startswith("docker network create --subnet 172.30.0.0/16 watertight-kind") for c in calls
    )
    creates = [c for c in calls if c.startswith("kind create cluster")]
    assert [c.split()[4] for c in creates] == ["same-city", "remote-dr"]  # production exists
    assert all("|net=watertight-kind|" in c for c in creates)
    assert all(f"--config {rehearsal.KIND_DIR}/" in c for c in creates)


def test_kind_down_of_one_site_keeps_the_shared_network(tools: tuple[Path, Path]) -> None:
    bin_dir, log = tools
    install(bin_dir, "docker", "kind")
    code, output = invoke("down", "--site", "remote-dr")
    assert code == 0, output
    calls = log.read_text().splitlines()
    assert [c.split("|")[0].strip() for c in calls] == ["kind delete cluster --name remote-dr"]


def test_load_image_without_build_loads_the_tag_into_every_site(tools: tuple[Path, Path]) -> None:
    bin_dir, log = tools
    install(bin_dir, "docker", "kind")
    code, output = invoke("load-image", "--no-build", "--tag", "watertight:e2e")
    assert code == 0, output
    loads = [c.split("|")[0].strip() for c in log.read_text().splitlines()]
    assert loads == [
        f"kind load docker-image watertight:e2e --name {site}"
        for site in ("production", "same-city", "remote-dr")
    ]


def test_deploy_gives_every_stack_the_shared_credentials_on_stdin_and_a_file_backend(
    tools: tuple[Path, Path], tmp_path: Path
) -> None:
    bin_dir, log = tools
    install(bin_dir, "pulumi")
    state = tmp_path / "state"
    code, output = invoke("deploy", "--state-dir", str(state))
    assert code == 0, output
    token = (state / "credentials.json").read_text().strip()
    assert set(json.loads(token)) == {"replication", "admin", "operator", "approvers"}
    assert stat.S_IMODE(os.stat(state / "credentials.json").st_mode) == 0o600
    calls = log.read_text().splitlines()
    for value in json.loads(token).values():
        assert value.split()[-1] not in "\n".join(calls) + output
    assert Path(f"{log}.stdin").read_text().count(token) == 3
    ups = sorted(c.split("|")[0].strip() for c in calls if c.startswith("pulumi up"))
    assert ups == sorted(
        f"pulumi up --yes --skip-preview --non-interactive --stack {s}"
        for s in ("production", "same-city", "remote-dr")
    )
    assert all(f"|backend=file://{state.resolve()}" in c for c in calls)


@pytest.mark.parametrize("site", ["production", "same-city", "remote-dr"])
def test_each_kind_config_names_its_site_with_its_own_pod_range(site: str) -> None:
    config = yaml.safe_load((rehearsal.KIND_DIR / f"{site}.yaml").read_text())
    assert config["kind"] == "Cluster"
    assert config["name"] == site
    (node,) = config["nodes"]
    assert node["image"].startswith("kindest/node:v1.31")
    others = [
        yaml.safe_load((rehearsal.KIND_DIR / f"{s}.yaml").read_text())["networking"]["podSubnet"]
        for s in rehearsal.available_sites()
        if s != site
    ]
    assert config["networking"]["podSubnet"] not in others
