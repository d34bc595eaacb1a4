"""Each pod the chart renders becomes one container plan carrying exactly what the pod
would get; what a container cannot honour is refused naming the object and field.

Rendered with the real helm through the docker stacks' values (the Pulumi stacks' own
function); no Docker engine is needed.
"""

from __future__ import annotations

import copy
from collections import Counter
from typing import Any

import pytest

from failover.topology import load_topology
from infra.docker.stack import NAMESPACE, docker_chart_values, docker_endpoints
from infra.docker.workloads import ChartContractError, ContainerPlan, plan_site, wan_alias
from infra.pulumi.chart_render import render_chart
from infra.pulumi.site_values import CREDENTIALS_SECRET
from infra.pulumi.stack_values import RELEASE

TOPOLOGY = load_topology("topology.yaml")
SITES = TOPOLOGY.site_names
SECRETS = {
    CREDENTIALS_SECRET: {k: f"{k}-token" for k in ("replication", "admin", "operator", "approvers")}
}
Objects = list[dict[str, Any]]


@pytest.fixture(scope="module")
def rendered() -> dict[str, Objects]:
    return {
        site: render_chart(
            docker_chart_values(TOPOLOGY, site, "watertight:test"), RELEASE, NAMESPACE
        )
        for site in SITES
    }


def plans_of(objects: Objects, site: str) -> dict[str, ContainerPlan]:
    return {p.pod: p for p in plan_site(objects, site, NAMESPACE, SECRETS)}


def workloads(objects: Objects) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] in ("Deployment", "StatefulSet")]


@pytest.mark.parametrize("site", SITES)
def test_every_rendered_pod_runs_with_exactly_its_command_and_environment(
    rendered: dict[str, Objects], site: str
) -> None:
    plans = plans_of(rendered[site], site)
    expected_pods = 0
    for workload in workloads(rendered[site]):
        container = workload["spec"]["template"]["spec"]["containers"][0]
        for index in range(workload["spec"].get("replicas", 1)):
            expected_pods += 1
            plan = plans[f"{workload['metadata']['name']}-{index}"]
            assert plan.argv == tuple(container.get("command", []) + container.get("args", []))
            assert plan.image == container["image"]
            assert dict(plan.env) == {e["name"]: e["value"] for e in container.get("env", [])}
    assert len(plans) == expected_pods


@pytest.mark.parametrize("site", SITES)
def test_every_site_runs_a_router_controller_observer_etcd_member_and_every_unit(
    rendered: dict[str, Objects], site: str
) -> None:
    plans = plans_of(rendered[site], site).values()
    components = Counter(p.component for p in plans)
    assert components["controller"] == components["observer"] == components["etcd"] == 1
    assert components["router"] >= 1
    assert sorted(p.unit for p in plans if p.component == "unit") == sorted(TOPOLOGY.units)


def test_mounted_config_and_secret_files_hold_what_the_cluster_would_mount(
    rendered: dict[str, Objects],
) -> None:
    plans = plans_of(rendered["production"], "production")
    config_maps = {
        o["metadata"]["name"]: o["data"] for o in rendered["production"] if o["kind"] == "ConfigMap"
    }
    controller = plans[f"{RELEASE}-controller-0"]
    files = {m.path: dict(m.files) for m in controller.mounted_files}
    assert (
        files["/etc/watertight"]["topology.yaml"]
        == config_maps[f"{RELEASE}-topology"]["topology.yaml"]
    )
    assert (
        files["/etc/watertight"]["addresses.json"]
        == config_maps[f"{RELEASE}-addresses"]["addresses.json"]
    )
    # The controller mounts only its own roles' credentials, with the Secret's mode.
    credentials = next(m for m in controller.mounted_files if m.path.endswith("credentials"))
    assert dict(credentials.files) == {k: f"{k}-token" for k in ("admin", "operator", "approvers")}
    assert credentials.mode == 0o440


def test_claims_become_volumes_scratch_dirs_tmpfs_and_the_pod_keeps_its_security(
    rendered: dict[str, Objects],
) -> None:
    plans = plans_of(rendered["production"], "production")
    etcd, unit = plans[f"{RELEASE}-etcd-0"], plans[f"{RELEASE}-unit-u00-0"]
    assert etcd.volumes == ((f"data-{RELEASE}-etcd-0", "/var/lib/etcd"),)
    assert unit.volumes == ((f"{RELEASE}-unit-u00-data", "/var/lib/watertight"),)
    assert "/tmp" in unit.scratch
    assert unit.user == "10001:10001"
    assert unit.read_only_root and unit.drop_all_capabilities and unit.no_new_privileges
    assert unit.readiness is not None and (unit.readiness.path, unit.readiness.port) == (
        "/readyz",
        8100,
    )


@pytest.mark.parametrize("site", SITES)
def test_the_wan_names_of_a_site_are_the_addresses_the_other_sites_dial(
    rendered: dict[str, Objects], site: str
) -> None:
    plans = plans_of(rendered[site], site)
    endpoints = docker_endpoints(site)
    wan_names = {alias for p in plans.values() for alias in p.wan_aliases}
    for unit in TOPOLOGY.units:
        host = endpoints.unit_url_template.replace("{unit}", unit).split("//")[1].split(":")[0]
        assert host in wan_names
        assert host in plans[f"{RELEASE}-unit-{unit}-0"].wan_aliases
    for url in (endpoints.etcd_peer_url, endpoints.controller_url, endpoints.router_url):
        assert url.split("//")[1].split(":")[0] in wan_names
    assert wan_alias(f"{RELEASE}-etcd", site) in plans[f"{RELEASE}-etcd-0"].wan_aliases


def _first(objects: Objects, kind: str, name_part: str) -> dict[str, Any]:
    return next(o for o in objects if o["kind"] == kind and name_part in o["metadata"]["name"])


def test_a_volume_type_a_container_cannot_have_is_refused_naming_it(
    rendered: dict[str, Objects],
) -> None:
    objects = copy.deepcopy(rendered["production"])
    controller = _first(objects, "Deployment", "controller")
    volume = next(
        v for v in controller["spec"]["template"]["spec"]["volumes"] if v["name"] == "tmp"
    )
    volume.pop("emptyDir")
    volume["hostPath"] = {"path": "/var/run"}
    with pytest.raises(
        ChartContractError, match=r"Deployment/watertight-controller: volumeMounts tmp"
    ):
        plan_site(objects, "production", NAMESPACE, SECRETS)


def test_a_missing_secret_key_is_refused_naming_the_secret_and_its_keys(
    rendered: dict[str, Objects],
) -> None:
    partial = {CREDENTIALS_SECRET: {"replication": "r"}}
    with pytest.raises(ChartContractError, match=r"has no key 'admin' \(keys: replication\)"):
        plan_site(rendered["production"], "production", NAMESPACE, partial)


def test_a_service_that_remaps_a_port_is_refused(rendered: dict[str, Objects]) -> None:
    objects = copy.deepcopy(rendered["production"])
    service = _first(objects, "Service", "router")
    service["spec"]["ports"][0]["port"] = 80
    with pytest.raises(ChartContractError, match=r"Service/watertight-router port 80 targets"):
        plan_site(objects, "production", NAMESPACE, SECRETS)


def test_an_environment_value_from_a_secret_is_resolved_and_a_missing_one_refused(
    rendered: dict[str, Objects],
) -> None:
    objects = copy.deepcopy(rendered["production"])
    unit = _first(objects, "Deployment", "unit-u00")
    env = unit["spec"]["template"]["spec"]["containers"][0]["env"]
    env.append(
        {
            "name": "WATERTIGHT_DATABASE_URL",
            "valueFrom": {"secretKeyRef": {"name": "db", "key": "url"}},
        }
    )
    with pytest.raises(
        ChartContractError, match=r"env WATERTIGHT_DATABASE_URL: Secret 'db' does not exist"
    ):
        plan_site(objects, "production", NAMESPACE, SECRETS)
    plans = plans_of_with(objects, {**SECRETS, "db": {"url": "postgresql://db/u00"}})
    assert (
        dict(plans[f"{RELEASE}-unit-u00-0"].env)["WATERTIGHT_DATABASE_URL"] == "postgresql://db/u00"
    )


def plans_of_with(objects: Objects, secrets: dict[str, dict[str, str]]) -> dict[str, ContainerPlan]:
    return {p.pod: p for p in plan_site(objects, "production", NAMESPACE, secrets)}


def test_a_workload_scaled_to_zero_runs_no_container(rendered: dict[str, Objects]) -> None:
    objects = copy.deepcopy(rendered["production"])
    _first(objects, "Deployment", "unit-u03")["spec"]["replicas"] = 0
    assert f"{RELEASE}-unit-u03-0" not in plans_of(objects, "production")
