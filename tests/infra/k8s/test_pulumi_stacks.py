"""The real Pulumi program, run under mocks for each of the three stacks (one process each)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from pulumi_runs import REPO, STACKS, Run, k8s, result_of, run_stacks

from failover.topology import load_topology, parse_topology
from infra.pulumi.stack_config import StackConfigError, parse_stack_config
from infra.pulumi.stack_values import stack_chart_values

TOPOLOGY = load_topology(REPO / "topology.yaml")
CREDENTIALS = {
    "replication": "mock-replication-token-0123456789",
    "admin": "mock-admin-token-0123456789abcdef",
    "operator": "mock-operator-token-0123456789ab",
    "approvers": "rehearsal mock-approver-token-0123456789\n",
}
NAMESPACED = ("Deployment", "Service", "StatefulSet", "ConfigMap", "NetworkPolicy", "Secret")


@pytest.fixture(scope="module")
def runs() -> dict[str, Run]:
    return {stack: result_of(done) for stack, done in run_stacks().items()}


def unit_deployments(run: Run) -> dict[str, dict[str, Any]]:
    return {
        r["inputs"]["metadata"]["labels"]["watertight.io/unit"]: r
        for r in k8s(run, "Deployment")
        if r["inputs"]["metadata"]["labels"].get("app.kubernetes.io/component") == "unit"
    }


@pytest.mark.parametrize("stack", STACKS)
def test_each_stack_deploys_its_site_as_one_component_with_typed_children(
    runs: dict[str, Run], stack: str
) -> None:
    run = runs[stack]
    (component,) = [r for r in run["resources"] if r["type"] == "watertight:index:Site"]
    assert component["name"] == stack
    children = [r for r in run["resources"] if r["type"].startswith("kubernetes:")]
    assert len(children) > 40
    assert all(r["parent"].endswith(f"watertight:index:Site::{stack}") for r in children)
    (provider,) = [r for r in run["resources"] if r["type"] == "pulumi:providers:kubernetes"]
    assert provider["inputs"]["context"] == f"kind-{stack}"
    assert all(f"::{stack}-cluster::" in r["provider"] for r in children)


@pytest.mark.parametrize("stack", STACKS)
def test_every_object_lands_in_the_site_namespace(runs: dict[str, Run], stack: str) -> None:
    (namespace,) = k8s(runs[stack], "Namespace")
    assert namespace["inputs"]["metadata"]["name"] == "watertight"
    assert namespace["inputs"]["metadata"]["labels"]["watertight.io/site"] == stack
    for kind in NAMESPACED:
        for resource in k8s(runs[stack], kind):
            assert resource["inputs"]["metadata"]["namespace"] == "watertight", resource["name"]


@pytest.mark.parametrize("stack", STACKS)
def test_unit_deployments_match_the_topology_with_role_labels(
    runs: dict[str, Run], stack: str
) -> None:
    deployments = unit_deployments(runs[stack])
    assert set(deployments) == set(TOPOLOGY.units)
    for unit, deployment in deployments.items():
        role = "primary" if TOPOLOGY.placement(unit).primary == stack else "standby"
        labels = deployment["inputs"]["spec"]["template"]["metadata"]["labels"]
        assert labels["watertight.io/site"] == stack
        assert labels["watertight.io/role-at-deploy"] == role
        (container,) = deployment["inputs"]["spec"]["template"]["spec"]["containers"]
        assert container["image"] == "watertight:dev"
        assert container["imagePullPolicy"] == "Never"


@pytest.mark.parametrize("stack", STACKS)
def test_the_stacks_topology_config_map_loads_with_the_topology_model(
    runs: dict[str, Run], stack: str
) -> None:
    (config_map,) = [
        c
        for c in k8s(runs[stack], "ConfigMap")
        if c["inputs"]["metadata"]["name"] == "watertight-topology"
    ]
    text = config_map["inputs"]["data"]["topology.yaml"]
    mounted = parse_topology(yaml.safe_load(text), source=f"{stack}: topology ConfigMap")
    assert mounted == TOPOLOGY


@pytest.mark.parametrize("stack", STACKS)
def test_each_stack_runs_an_observer_and_a_controller_advertising_its_url_but_no_test_pod(
    runs: dict[str, Run], stack: str
) -> None:
    deployments = {d["inputs"]["metadata"]["name"]: d for d in k8s(runs[stack], "Deployment")}
    assert {"watertight-router", "watertight-controller", "watertight-observer"} <= set(deployments)
    (container,) = deployments["watertight-controller"]["inputs"]["spec"]["template"]["spec"][
        "containers"
    ]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["WATERTIGHT_PUBLIC_URL"] == runs[stack]["exports"]["controllerEndpoint"]
    # `helm test` hooks are for a live release; the stack renders with --skip-tests.
    assert k8s(runs[stack], "Pod") == []


def test_etcd_members_are_wired_to_what_the_other_stacks_advertise(runs: dict[str, Run]) -> None:
    advertised = {stack: runs[stack]["exports"]["etcdPeerEndpoint"] for stack in STACKS}
    assert len(set(advertised.values())) == 3
    for stack in STACKS:
        (statefulset,) = k8s(runs[stack], "StatefulSet")
        (container,) = statefulset["inputs"]["spec"]["template"]["spec"]["containers"]
        args = dict(a.removeprefix("--").split("=", 1) for a in container["args"])
        members = dict(m.split("=", 1) for m in args["initial-cluster"].split(","))
        assert members == advertised
        assert args["name"] == stack
        # Its readiness needs the other sites: one stack's `pulumi up` must not wait for it.
        assert statefulset["inputs"]["metadata"]["annotations"]["pulumi.com/skipAwait"] == "true"


@pytest.mark.parametrize("stack", STACKS)
def test_exports_name_the_router_and_all_etcd_endpoints(runs: dict[str, Run], stack: str) -> None:
    exports = runs[stack]["exports"]
    assert exports["site"] == stack
    assert exports["routerEndpoint"] == f"http://{stack}-control-plane:30080"
    assert exports["etcdEndpoints"][0] == exports["etcdClientEndpoint"]
    assert set(exports["etcdEndpoints"]) == {
        runs[s]["exports"]["etcdClientEndpoint"] for s in STACKS
    }
    assert exports["unitDeployments"] == [f"watertight-unit-{u}" for u in TOPOLOGY.units]


@pytest.mark.parametrize("stack", STACKS)
def test_the_per_role_credentials_are_only_in_their_secret(
    runs: dict[str, Run], stack: str
) -> None:
    (secret,) = k8s(runs[stack], "Secret")
    assert secret["inputs"]["metadata"]["name"] == "watertight-credentials"
    others = [r for r in runs[stack]["resources"] if r is not secret]
    for value in CREDENTIALS.values():
        token = value.split()[-1]
        assert token not in json.dumps(others)
        assert token not in json.dumps(runs[stack]["exports"])


def test_stack_files_agree_on_every_sites_endpoints() -> None:
    documents = {
        stack: yaml.safe_load((REPO / "infra" / "pulumi" / f"Pulumi.{stack}.yaml").read_text())[
            "config"
        ]
        for stack in STACKS
    }
    for stack, config in documents.items():
        assert config["watertight:site"] == stack
        for peer, endpoints in config["watertight:peers"].items():
            assert endpoints == documents[peer]["watertight:advertise"], (stack, peer)


def test_a_stack_without_a_kube_context_is_refused_naming_the_key() -> None:
    config = yaml.safe_load((REPO / "infra" / "pulumi" / "Pulumi.production.yaml").read_text())[
        "config"
    ]
    raw = {
        k.removeprefix("watertight:"): v for k, v in config.items() if k != "watertight:kubeContext"
    }
    with pytest.raises(
        StackConfigError, match=r"Pulumi.production.yaml: watertight:kubeContext: Field required"
    ):
        parse_stack_config(raw, "production")


def test_a_stack_whose_peers_miss_a_site_is_refused_before_rendering() -> None:
    config = yaml.safe_load((REPO / "infra" / "pulumi" / "Pulumi.production.yaml").read_text())
    raw = {k.removeprefix("watertight:"): v for k, v in config["config"].items()}
    del raw["peers"]["remote-dr"]
    with pytest.raises(ValueError, match="missing: remote-dr"):
        stack_chart_values(parse_stack_config(raw, "production"), TOPOLOGY)
