"""Each workload of a site gets the files, volumes, probes and strategy its program needs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from chart_helpers import CHART, REPO, SITES, Helm

from failover.observer.addresses import SiteAddresses
from failover.router.addresses import AddressMap
from failover.topology import load_topology

TOPOLOGY = load_topology(REPO / "topology.yaml")
Docs = list[dict[str, Any]]


def named(docs: Docs, kind: str, name: str) -> dict[str, Any]:
    (doc,) = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    return doc


def pod_of(doc: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = doc["spec"] if doc["kind"] == "Pod" else doc["spec"]["template"]["spec"]
    return spec


def only_container(docs: Docs, kind: str, name: str) -> dict[str, Any]:
    (container,) = pod_of(named(docs, kind, name))["containers"]
    return container


def env_of(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e.get("value", "<from>") for e in container.get("env", [])}


def mounted_files(docs: Docs, pod: dict[str, Any], container: dict[str, Any]) -> set[str]:
    """Every file path the container sees through ConfigMap, Secret and projected volumes."""
    volumes = {v["name"]: v for v in pod["volumes"]}
    files: set[str] = set()
    for mount in container.get("volumeMounts", []):
        volume = volumes.get(mount["name"], {})  # absent: a StatefulSet's claim template
        sources = volume.get("projected", {}).get("sources", [volume])
        for source in sources:
            if "configMap" in source:
                data = named(docs, "ConfigMap", source["configMap"]["name"])["data"]
                files |= {f"{mount['mountPath']}/{key}" for key in data}
            if "secret" in source:
                files |= {f"{mount['mountPath']}/{i['path']}" for i in source["secret"]["items"]}
    return files


@pytest.mark.parametrize("site", SITES)
def test_every_file_a_program_is_pointed_at_is_mounted_into_its_container(
    rendered: dict[str, Docs], site: str
) -> None:
    docs = rendered[site]
    for doc in docs:
        if doc["kind"] not in ("Deployment", "StatefulSet"):
            continue
        pod = pod_of(doc)
        for container in pod["containers"]:
            paths = {v for v in env_of(container).values() if v.startswith(("/etc/", "/var/run/"))}
            # A directory counts when it is a mount point (the credentials directory).
            mounts = {m["mountPath"] for m in container.get("volumeMounts", [])}
            missing = paths - mounted_files(docs, pod, container) - mounts
            assert not missing, (doc["metadata"]["name"], missing)


def addresses_of(docs: Docs) -> str:
    text: str = named(docs, "ConfigMap", "watertight-addresses")["data"]["addresses.json"]
    return text


@pytest.mark.parametrize("site", SITES)
def test_the_router_finds_every_unit_instance_through_the_map_it_loads_itself(
    rendered: dict[str, Docs], site: str, tmp_path: Path
) -> None:
    path = tmp_path / "addresses.json"
    path.write_text(addresses_of(rendered[site]), encoding="utf-8")
    addresses = AddressMap.from_file(path)
    for index, unit in enumerate(TOPOLOGY.units):
        assert addresses.url(unit, site) == f"http://watertight-unit-{unit}.watertight.svc:8100"
        for other in set(SITES) - {site}:
            assert addresses.url(unit, other) == f"http://{other}-control-plane:{30100 + index}"
    env = env_of(only_container(rendered[site], "Deployment", "watertight-router"))
    assert env["WATERTIGHT_ADDRESS_MAP"] == "/etc/watertight/addresses.json"


@pytest.mark.parametrize("site", SITES)
def test_controller_and_observer_load_the_sites_addresses_with_their_own_parser(
    rendered: dict[str, Docs], site: str
) -> None:
    addresses = SiteAddresses.from_json(addresses_of(rendered[site]), f"{site} ConfigMap")
    assert len(addresses.instances()) == len(TOPOLOGY.units) * len(SITES)
    assert addresses.etcd[site] == "http://watertight-etcd.watertight.svc:2379"
    others = set(SITES) - {site}
    assert {s: addresses.etcd[s] for s in others} == {
        s: f"http://{s}-control-plane:32379" for s in others
    }
    # Every controller as clients reach it, this site's included (the leader's is shown).
    assert dict(addresses.controllers) == {s: f"http://{s}-control-plane:30090" for s in SITES}
    for name in ("watertight-controller", "watertight-observer"):
        env = env_of(only_container(rendered[site], "Deployment", name))
        assert env["WATERTIGHT_ADDRESSES"] == "/etc/watertight/addresses.json"
        assert env["WATERTIGHT_SITE"] == site


def test_the_router_is_ready_on_readyz_and_holds_no_admin_token(
    rendered: dict[str, Docs],
) -> None:
    docs = rendered["remote-dr"]
    router = named(docs, "Deployment", "watertight-router")
    (container,) = pod_of(router)["containers"]
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert "admin-token" not in {v["name"] for v in pod_of(router)["volumes"]}


@pytest.mark.parametrize("site", SITES)
def test_the_controller_advertises_itself_and_keeps_its_records_on_a_kept_claim(
    rendered: dict[str, Docs], site: str
) -> None:
    docs = rendered[site]
    controller = named(docs, "Deployment", "watertight-controller")
    (container,) = pod_of(controller)["containers"]
    env = env_of(container)
    assert env["WATERTIGHT_PUBLIC_URL"] == f"http://{site}-control-plane:30090"
    assert env["WATERTIGHT_STATE_DIR"] == "/var/lib/watertight"
    assert {"name": "data", "mountPath": "/var/lib/watertight"} in container["volumeMounts"]
    volumes = {v["name"]: v for v in pod_of(controller)["volumes"]}
    claim = volumes["data"]["persistentVolumeClaim"]["claimName"]
    pvc = named(docs, "PersistentVolumeClaim", claim)
    assert pvc["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    # Its leader identity is its site: two at once, even during a rollout, would be two leaders.
    assert controller["spec"]["replicas"] == 1
    assert controller["spec"]["strategy"] == {"type": "Recreate"}


@pytest.mark.parametrize("site", SITES)
def test_every_site_runs_one_observer_that_serves_nothing_and_admits_no_one(
    rendered: dict[str, Docs], site: str
) -> None:
    docs = rendered[site]
    observer = named(docs, "Deployment", "watertight-observer")
    (container,) = pod_of(observer)["containers"]
    assert container["command"] == ["python", "-m", "failover.observer"]
    assert set(env_of(container)) == {
        "WATERTIGHT_SITE",
        "WATERTIGHT_TOPOLOGY",
        "WATERTIGHT_ETCD_ENDPOINTS",
        "WATERTIGHT_ADDRESSES",
    }
    endpoints = json.loads(env_of(container)["WATERTIGHT_ETCD_ENDPOINTS"])
    assert endpoints[0] == "http://watertight-etcd.watertight.svc:2379" and len(endpoints) == 3
    assert "ports" not in container and "readinessProbe" not in container
    assert observer["spec"]["replicas"] == 1
    assert observer["spec"]["strategy"] == {"type": "Recreate"}
    assert pod_of(observer)["automountServiceAccountToken"] is False
    policy = named(docs, "NetworkPolicy", "watertight-observer")
    assert policy["spec"]["ingress"] == []


@pytest.mark.parametrize("site", SITES)
def test_the_etcd_member_keeps_its_data_on_a_claimed_volume_with_fsync_on(
    rendered: dict[str, Docs], site: str
) -> None:
    statefulset = named(rendered[site], "StatefulSet", "watertight-etcd")
    (claim,) = statefulset["spec"]["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == "data"
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    (container,) = pod_of(statefulset)["containers"]
    assert {"name": "data", "mountPath": "/var/lib/etcd"} in container["volumeMounts"]
    assert "--data-dir=/var/lib/etcd/data" in container["args"]
    assert not any("unsafe" in arg for arg in container["args"])
    assert "data" not in {v["name"] for v in pod_of(statefulset)["volumes"]}


@pytest.mark.parametrize("site", SITES)
def test_every_unit_keeps_its_ledger_on_its_own_kept_claim(
    rendered: dict[str, Docs], site: str
) -> None:
    docs = rendered[site]
    for unit in TOPOLOGY.units:
        deployment = named(docs, "Deployment", f"watertight-unit-{unit}")
        volumes = {v["name"]: v for v in pod_of(deployment)["volumes"]}
        claim = volumes["data"]["persistentVolumeClaim"]["claimName"]
        assert claim == f"watertight-unit-{unit}-data"
        pvc = named(docs, "PersistentVolumeClaim", claim)
        assert pvc["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
        (container,) = pod_of(deployment)["containers"]
        assert env_of(container)["WATERTIGHT_DATA_DIR"] == "/var/lib/watertight"


@pytest.mark.parametrize("part", ["controller", "observer"])
def test_two_controllers_or_observers_in_one_site_are_refused(helm: Helm, part: str) -> None:
    values = str(CHART / "values-production.yaml")
    done = helm("template", "watertight", str(CHART), "-f", values, "--set", f"{part}.replicas=2")
    assert done.returncode != 0
    assert f"{part}.replicas" in done.stderr and "less than or equal to 1" in done.stderr
