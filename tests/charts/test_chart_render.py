"""The chart renders each site's share of topology.yaml, valid for Kubernetes 1.31."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from chart_helpers import CHART, KUBE_VERSION, REPO, SITES, Helm, render

from failover.topology import Topology, load_topology, parse_topology
from infra.pulumi.site_values import topology_document
from infra.pulumi.values_files import values_file_text

TOPOLOGY = load_topology(REPO / "topology.yaml")
CI_VALUES = sorted((CHART / "ci").glob("*-values.yaml"))


def of_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def component(doc: dict[str, Any]) -> str:
    labels: dict[str, str] = doc["metadata"]["labels"]
    return labels.get("app.kubernetes.io/component", "")


def unit_deployments(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        d["metadata"]["labels"]["watertight.io/unit"]: d
        for d in of_kind(docs, "Deployment")
        if component(d) == "unit"
    }


def env_of(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e.get("value", "<from>") for e in container.get("env", [])}


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """Kubernetes label-selector semantics (matchLabels + matchExpressions)."""
    for key, value in selector.get("matchLabels", {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions", []):
        present = expr["key"] in labels
        value = labels.get(expr["key"])
        ok = {
            "In": present and value in expr.get("values", []),
            "NotIn": not present or value not in expr.get("values", []),
            "Exists": present,
            "DoesNotExist": not present,
        }[expr["operator"]]
        if not ok:
            return False
    return True


def pod_labels(docs: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    """Pod-template labels of every workload, keyed by workload name."""
    return {
        d["metadata"]["name"]: d["spec"]["template"]["metadata"]["labels"]
        for d in docs
        if d["kind"] in ("Deployment", "StatefulSet")
    }


@pytest.mark.parametrize(
    "values",
    [f"values-{site}.yaml" for site in SITES] + sorted(f"ci/{p.name}" for p in CI_VALUES),
)
def test_helm_lint_is_clean_for_each_site_and_each_ci_values_file(helm: Helm, values: str) -> None:
    done = helm("lint", "--strict", str(CHART), "-f", str(CHART / values))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 chart(s) failed" in done.stdout


@pytest.mark.parametrize("values", CI_VALUES, ids=lambda p: p.name)
def test_every_ci_values_file_renders_manifests_valid_for_the_pinned_kubernetes(
    helm: Helm, values: Path
) -> None:
    for doc in render(helm, ["-f", str(values)]):
        kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)


def test_bare_helm_lint_fails_only_for_the_site_the_chart_will_not_guess(helm: Helm) -> None:
    # No default site on purpose (values.yaml): linters take ci/*-values.yaml instead,
    # as chart-testing does.
    assert len(CI_VALUES) >= 1
    done = helm("lint", str(CHART))
    assert done.returncode != 0
    reasons = set(re.findall(r"- \(root\): (.+)", done.stdout))
    assert reasons == {"site is required"}, done.stdout


@pytest.mark.parametrize("site", SITES)
def test_every_rendered_manifest_validates_against_the_pinned_kubernetes_schema(
    rendered: dict[str, list[dict[str, Any]]], site: str
) -> None:
    docs = rendered[site]
    assert len(docs) > 30
    for doc in docs:
        kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)


def test_the_schema_validator_rejects_an_unknown_field() -> None:
    # Proves the validation above can fail: a typo'd field is an error in strict mode.
    bad = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "x"},
        "spec": {"ports": [{"port": 80}], "selectr": {"a": "b"}},
    }
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, KUBE_VERSION, strict=True)


@pytest.mark.parametrize("site", SITES)
def test_every_site_holds_an_instance_of_every_unit_labelled_with_its_first_role(
    rendered: dict[str, list[dict[str, Any]]], site: str
) -> None:
    # Quorum commit: a unit's primary site plus a standby in each of the two others.
    deployments = unit_deployments(rendered[site])
    assert all(site in TOPOLOGY.placement(u).sites for u in TOPOLOGY.units)
    assert set(deployments) == set(TOPOLOGY.units)
    assert len(deployments) == 8
    for unit, deployment in deployments.items():
        placement = TOPOLOGY.placement(unit)
        role = "primary" if placement.primary == site else "standby"
        assert role == "primary" or site in placement.standbys
        for labels in (
            deployment["metadata"]["labels"],
            deployment["spec"]["template"]["metadata"]["labels"],
        ):
            assert labels["watertight.io/unit"] == unit
            assert labels["watertight.io/site"] == site
            assert labels["watertight.io/role-at-deploy"] == role
        assert deployment["spec"]["replicas"] == 1
        assert deployment["spec"]["strategy"]["type"] == "Recreate"


@pytest.mark.parametrize("site", SITES)
def test_unit_containers_get_the_unit_settings_env_and_health_probes(
    rendered: dict[str, list[dict[str, Any]]], site: str
) -> None:
    for unit, deployment in unit_deployments(rendered[site]).items():
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert container["command"] == ["python", "-m", "app"]
        env = env_of(container)
        assert env["WATERTIGHT_UNIT"] == unit
        assert env["WATERTIGHT_SITE"] == site
        assert env["WATERTIGHT_HOST"] == "0.0.0.0"
        assert env["WATERTIGHT_PORT"] == "8100"
        assert env["WATERTIGHT_TOPOLOGY"] == "/etc/watertight/topology.yaml"
        assert env["WATERTIGHT_CREDENTIALS_DIR"] == "/var/run/secrets/watertight/credentials"
        assert "WATERTIGHT_TOKEN_FILE" not in env
        assert env["WATERTIGHT_DATA_DIR"] == "/var/lib/watertight"
        primary = TOPOLOGY.placement(unit).primary == site
        assert env["WATERTIGHT_ROLE"] == ("primary" if primary else "standby")
        peers = json.loads(env["WATERTIGHT_PEERS"])
        assert set(peers) == set(TOPOLOGY.site_names) - {site}
        # A primary ships to every other site (WATERTIGHT_STANDBYS left to its default):
        # each needs a peer URL or the unit refuses the primary role.
        assert set(TOPOLOGY.standbys_of(site)) <= set(peers)
        assert "WATERTIGHT_STANDBYS" not in env
        assert all(f"{s}-control-plane:" in url for s, url in peers.items())
        endpoints = json.loads(env["WATERTIGHT_ETCD_ENDPOINTS"])
        assert endpoints[0] == "http://watertight-etcd.watertight.svc:2379"
        assert len(endpoints) == 3
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
        assert container["ports"][0]["containerPort"] == 8100
        assert container["resources"]["limits"] and container["resources"]["requests"]


def test_peer_urls_use_each_units_own_node_port(rendered: dict[str, list[dict[str, Any]]]) -> None:
    deployments = unit_deployments(rendered["production"])
    for index, unit in enumerate(TOPOLOGY.units):
        (container,) = deployments[unit]["spec"]["template"]["spec"]["containers"]
        peers = json.loads(env_of(container)["WATERTIGHT_PEERS"])
        assert peers["same-city"] == f"http://same-city-control-plane:{30100 + index}"


@pytest.mark.parametrize("site", SITES)
def test_every_container_runs_as_non_root_with_a_read_only_root(
    rendered: dict[str, list[dict[str, Any]]], site: str
) -> None:
    for doc in rendered[site]:
        if doc["kind"] not in ("Deployment", "StatefulSet", "Pod"):
            continue
        pod = doc["spec"] if doc["kind"] == "Pod" else doc["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] != 0
        for container in pod["containers"]:
            assert container["securityContext"]["readOnlyRootFilesystem"] is True
            assert container["securityContext"]["allowPrivilegeEscalation"] is False
        # No workload talks to the Kubernetes API, so none may hold a token for it.
        assert pod["automountServiceAccountToken"] is False


@pytest.mark.parametrize("site", SITES)
def test_the_etcd_member_joins_the_other_sites_members(
    rendered: dict[str, list[dict[str, Any]]], site: str
) -> None:
    (statefulset,) = of_kind(rendered[site], "StatefulSet")
    assert statefulset["spec"]["replicas"] == 1
    (container,) = statefulset["spec"]["template"]["spec"]["containers"]
    args = dict(a.removeprefix("--").split("=", 1) for a in container["args"])
    assert args["name"] == site
    members = dict(m.split("=", 1) for m in args["initial-cluster"].split(","))
    assert members == {s: f"http://{s}-control-plane:32380" for s in SITES}
    assert args["initial-advertise-peer-urls"] == members[site]


@pytest.mark.parametrize("site", SITES)
def test_unit_network_policy_admits_only_routers_controllers_observers_and_peer_sites(
    rendered: dict[str, list[dict[str, Any]]], site: str
) -> None:
    docs = rendered[site]
    policy = next(
        d for d in of_kind(docs, "NetworkPolicy") if d["metadata"]["name"] == "watertight-units"
    )
    pods = pod_labels(docs)
    selected = {
        name for name, labels in pods.items() if selects(policy["spec"]["podSelector"], labels)
    }
    assert selected == {f"watertight-unit-{u}" for u in TOPOLOGY.units}
    (rule,) = policy["spec"]["ingress"]
    assert rule["ports"] == [{"port": 8100, "protocol": "TCP"}]
    pod_peers = [p["podSelector"] for p in rule["from"] if "podSelector" in p]
    admitted = {name for name, labels in pods.items() if any(selects(s, labels) for s in pod_peers)}
    assert admitted == {"watertight-router", "watertight-controller", "watertight-observer"}
    assert [p["ipBlock"]["cidr"] for p in rule["from"] if "ipBlock" in p] == ["172.30.0.0/16"] * 2


def test_etcd_network_policy_keeps_peer_port_for_other_sites_only(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    docs = rendered["production"]
    policy = next(
        d for d in of_kind(docs, "NetworkPolicy") if d["metadata"]["name"] == "watertight-etcd"
    )
    pods = pod_labels(docs)
    selected = {n for n, labels in pods.items() if selects(policy["spec"]["podSelector"], labels)}
    assert selected == {"watertight-etcd"}
    client_rule, peer_rule = policy["spec"]["ingress"]
    assert client_rule["ports"][0]["port"] == 2379
    assert peer_rule["ports"][0]["port"] == 2380
    assert all("ipBlock" in p for p in peer_rule["from"])
    in_site = [p["podSelector"] for p in client_rule["from"] if "podSelector" in p]
    admitted = {n for n, labels in pods.items() if any(selects(s, labels) for s in in_site)}
    assert admitted == {f"watertight-unit-{u}" for u in TOPOLOGY.units} | {
        "watertight-router",
        "watertight-controller",
        "watertight-observer",
    }


def mounted_topology(docs: list[dict[str, Any]], source: str) -> Topology:
    """The topology file every process of a release reads, loaded by the topology model."""
    (config_map,) = [
        d for d in of_kind(docs, "ConfigMap") if d["metadata"]["name"] == "watertight-topology"
    ]
    return parse_topology(yaml.safe_load(config_map["data"]["topology.yaml"]), source=source)


@pytest.mark.parametrize("site", SITES)
def test_each_sites_rendered_topology_config_map_loads_with_the_topology_model(
    helm: Helm, site: str
) -> None:
    # helm template with the site's values, then what `python -m app` and the controller
    # do with WATERTIGHT_TOPOLOGY: parse_topology refuses unknown fields (extra=forbid).
    docs = render(helm, ["-f", str(CHART / f"values-{site}.yaml")])
    mounted = mounted_topology(docs, f"{site}: ConfigMap watertight-topology")
    assert mounted.units == TOPOLOGY.units
    assert dict(mounted.placements) == dict(TOPOLOGY.placements)
    assert mounted.bucket_table == TOPOLOGY.bucket_table
    assert mounted.replication == TOPOLOGY.replication
    assert mounted.network == TOPOLOGY.network
    assert mounted.timing == TOPOLOGY.timing
    assert mounted.policy == TOPOLOGY.policy
    assert mounted == TOPOLOGY


def test_the_default_values_topology_loads_with_the_topology_model(helm: Helm) -> None:
    docs = render(helm, ["--set", "site=remote-dr"])
    mounted = mounted_topology(docs, "values.yaml: ConfigMap watertight-topology")
    assert dict(mounted.placements) == dict(TOPOLOGY.placements)
    assert mounted.bucket_table == TOPOLOGY.bucket_table
    assert mounted.replication.commit_rule == "any-standby"


def test_site_values_files_are_generated_from_topology_yaml() -> None:
    for site in SITES:
        committed = (CHART / f"values-{site}.yaml").read_text(encoding="utf-8")
        assert committed == values_file_text(TOPOLOGY, site), (
            f"values-{site}.yaml is stale: run python -m infra.pulumi.values_files"
        )


def test_default_values_carry_the_repository_topology() -> None:
    defaults = yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))
    expected = topology_document(TOPOLOGY)
    assert defaults["topology"]["units"] == expected["units"]
    assert defaults["topology"]["sites"] == expected["sites"]


SECRET_KEY = re.compile(r"(token|password|secret|passwd)", re.IGNORECASE)
REFERENCE_KEYS = {
    "existingSecret",
    "key",
    "generate",
    "databaseUrlSecret",
    "adminToken",
    "credentials",
    "imagePullSecrets",
}


def _secret_like_values(node: Any, path: str = "") -> list[str]:
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{path}.{key}" if path else str(key)
            if (
                SECRET_KEY.search(str(key))
                and key not in REFERENCE_KEYS
                and value not in ("", None, {})
            ):
                found.append(here)
            found += _secret_like_values(value, here)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _secret_like_values(value, f"{path}[{i}]")
    return found


@pytest.mark.parametrize("name", ["values.yaml", *(f"values-{s}.yaml" for s in SITES)])
def test_values_files_hold_no_secret_in_clear(name: str) -> None:
    values = yaml.safe_load((CHART / name).read_text(encoding="utf-8"))
    assert _secret_like_values(values) == []


def test_site_releases_reference_the_shared_credentials_secret_and_create_none(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    for site in SITES:
        assert of_kind(rendered[site], "Secret") == []
        (deployment, *_) = unit_deployments(rendered[site]).values()
        volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
        assert volumes["credentials"]["secret"]["secretName"] == "watertight-credentials"


def test_generated_credentials_are_one_token_per_role_and_appear_only_in_their_secret(
    helm: Helm,
) -> None:
    docs = render(helm, ["--set", "site=production"])
    (secret,) = of_kind(docs, "Secret")
    data = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert set(data) == {"replication", "admin", "operator", "approvers"}
    name, approver = data["approvers"].split()
    tokens = [data["replication"], data["admin"], data["operator"], approver]
    assert name == "rehearsal" and len(set(tokens)) == 4
    others = yaml.safe_dump_all([d for d in docs if d["kind"] != "Secret"])
    for token in tokens:
        assert len(token) >= 32 and token not in others


def _credential_mounts(doc: dict[str, Any]) -> tuple[str | None, list[str]]:
    pod = doc["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    if "credentials" not in volumes:
        assert "admin-token" not in volumes
        return env_of(container).get("WATERTIGHT_CREDENTIALS_DIR"), []
    keys = [item["key"] for item in volumes["credentials"]["secret"]["items"]]
    assert volumes["credentials"]["secret"]["secretName"] == "bank-credentials"
    return env_of(container).get("WATERTIGHT_CREDENTIALS_DIR"), keys


def test_each_pod_mounts_only_the_credentials_of_its_roles(helm: Helm) -> None:
    docs = render(
        helm, ["--set", "site=production", "--set", "credentials.existingSecret=bank-credentials"]
    )
    assert of_kind(docs, "Secret") == []
    where = "/var/run/secrets/watertight/credentials"
    for doc in of_kind(docs, "Deployment") + of_kind(docs, "StatefulSet"):
        expected = {
            "unit": (where, ["replication", "admin"]),
            "controller": (where, ["admin", "operator", "approvers"]),
        }.get(component(doc), (None, []))
        assert _credential_mounts(doc) == expected, doc["metadata"]["name"]


@pytest.mark.parametrize(
    "settings",
    [
        ["--set", "site=production"],
        [
            "--set", "site=same-city", "--set", "networkPolicy.enabled=false",
            "--set", "units.persistence.enabled=false",
            "--set", "units.databaseUrlSecret.name=pg", "--set", "units.databaseUrlSecret.key=url",
            "--set", "router.service.type=LoadBalancer", "--set", "etcd.service.type=LoadBalancer",
            "--set", "units.overrides.u03.replicas=0",
            "--set", "controller.recordsUrlSecret.name=records-pg",
        ],
    ],
    ids=["single-site-defaults", "postgres-no-policies-load-balancers"],
)  # fmt: skip
def test_other_value_combinations_render_valid_manifests(helm: Helm, settings: list[str]) -> None:
    docs = render(helm, settings)
    for doc in docs:
        kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)
    if "units.databaseUrlSecret.name=pg" in settings:
        assert of_kind(docs, "PersistentVolumeClaim") == []
        assert of_kind(docs, "NetworkPolicy") == []
        u03 = unit_deployments(docs)["u03"]
        assert u03["spec"]["replicas"] == 0
        (container,) = u03["spec"]["template"]["spec"]["containers"]
        (db,) = [e for e in container["env"] if e["name"] == "WATERTIGHT_DATABASE_URL"]
        assert db["valueFrom"]["secretKeyRef"] == {"name": "pg", "key": "url"}
        (controller,) = [d for d in of_kind(docs, "Deployment") if component(d) == "controller"]
        (container,) = controller["spec"]["template"]["spec"]["containers"]
        (records,) = [e for e in container["env"] if e["name"] == "WATERTIGHT_RECORDS_URL"]
        assert records["valueFrom"]["secretKeyRef"] == {"name": "records-pg", "key": "url"}
        assert "WATERTIGHT_STATE_DIR" not in env_of(container)
