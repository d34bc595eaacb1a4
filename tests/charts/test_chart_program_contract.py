"""Acceptance: every site the chart deploys runs every program, each given what it reads.

Each site is rendered twice: with the values its Pulumi stack builds
(``infra/pulumi/Pulumi.<site>.yaml`` through ``stack_chart_values``, what ``pulumi up``
deploys) and with the committed ``values-<site>.yaml`` (what ``helm install`` users
deploy). Every container that runs a watertight program is held to that program's
:class:`EnvContract`, the one definition its own start-up check uses: a ``WATERTIGHT_*``
variable the chart sets that the program does not read is a fault, and so is anything the
program cannot start without. A site must hold a router, a controller, an observer, an
etcd member and an instance of every unit of ``topology.yaml``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from chart_helpers import CHART, REPO, SITES, Helm, render

from app.settings import ENV_CONTRACT as UNIT
from app.settings import UnitSettings
from failover.controller.settings import ENV_CONTRACT as CONTROLLER
from failover.controller.settings import ControllerSettings
from failover.credentials import Role
from failover.env_contract import EnvContract
from failover.observer.addresses import load_site_settings
from failover.observer.main import ENV_CONTRACT as OBSERVER
from failover.observer.main import ObserverSettings
from failover.router.addresses import AddressMap
from failover.router.settings import ENV_CONTRACT as ROUTER
from failover.router.settings import RouterSettings
from failover.topology import load_topology
from infra.pulumi.site_values import kind_chart_values
from infra.pulumi.stack_config import parse_stack_config
from infra.pulumi.stack_values import stack_chart_values

TOPOLOGY = load_topology(REPO / "topology.yaml")
PROGRAMS: Mapping[tuple[str, ...], EnvContract] = {
    ("python", "-m", "app"): UNIT,
    ("python", "-m", "failover.router"): ROUTER,
    ("python", "-m", "failover.controller"): CONTROLLER,
    ("python", "-m", "failover.observer"): OBSERVER,
}
WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "Pod")
SOURCES = (
    "pulumi-stack",
    "values-file",
    # The kind values with mutual TLS (tls.enabled): every program is given
    # WATERTIGHT_TLS_DIR, which each must read (failover/tls.py).
    "values-with-tls",
)

Docs = list[dict[str, Any]]


def image_environment() -> dict[str, str]:
    """``WATERTIGHT_*`` variables the image's runtime stage sets for every container."""
    runtime = (REPO / "Dockerfile").read_text(encoding="utf-8").split(" AS runtime", 1)[1]
    return dict(re.findall(r"\b(WATERTIGHT_[A-Z0-9_]+)=(\S+)", runtime))


def stack_values(site: str) -> dict[str, Any]:
    """The chart values the site's Pulumi stack deploys with."""
    stack_file = REPO / "infra" / "pulumi" / f"Pulumi.{site}.yaml"
    config = yaml.safe_load(stack_file.read_text(encoding="utf-8"))["config"]
    raw = {key.removeprefix("watertight:"): value for key, value in config.items()}
    return stack_chart_values(parse_stack_config(raw, site), TOPOLOGY)


@pytest.fixture(scope="module")
def deployed(helm: Helm, tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Docs]:
    """Rendered manifests by (site, values source), test hooks included."""
    out: dict[tuple[str, str], Docs] = {}
    for site in SITES:
        values = tmp_path_factory.mktemp("values") / f"{site}.json"
        values.write_text(json.dumps(stack_values(site)), encoding="utf-8")
        out[site, "pulumi-stack"] = render(helm, ["-f", str(values)])
        out[site, "values-file"] = render(helm, ["-f", str(CHART / f"values-{site}.yaml")])
        with_tls = tmp_path_factory.mktemp("values") / f"{site}-tls.json"
        with_tls.write_text(json.dumps(kind_chart_values(TOPOLOGY, site, tls=True)))
        out[site, "values-with-tls"] = render(helm, ["-f", str(with_tls)])
    return out


def containers(docs: Docs) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(workload, container) for every container and init container the chart renders."""
    for doc in docs:
        if doc["kind"] not in WORKLOADS:
            continue
        pod = doc["spec"] if doc["kind"] == "Pod" else doc["spec"]["template"]["spec"]
        for container in [*pod.get("initContainers", []), *pod["containers"]]:
            yield doc, container


def program_of(container: Mapping[str, Any]) -> EnvContract | None:
    """The watertight program a container runs, if any (by its command)."""
    command = tuple(container.get("command", ()))
    return next((c for prefix, c in PROGRAMS.items() if command[: len(prefix)] == prefix), None)


def container_faults(doc: Mapping[str, Any], container: Mapping[str, Any]) -> list[str]:
    """What is wrong with one container's environment, one sentence each."""
    where = f"{doc['kind']} {doc['metadata']['name']}, container {container['name']}"
    chart_env = {e["name"]: e for e in container.get("env", [])}
    if container.get("envFrom"):
        return [f"{where}: takes envFrom, which this test cannot hold to a contract"]
    contract = program_of(container)
    set_here = sorted(n for n in chart_env if n.upper().startswith("WATERTIGHT_"))
    if contract is None:
        return [f"{where}: is given {n}, but runs no watertight program" for n in set_here]
    faults = [
        f"{where}: is given {name}, which {contract.program} does not read"
        for name in contract.unknown(dict.fromkeys(set_here, ""))
    ]
    environ = {**image_environment(), **{n: "" for n in chart_env}}
    faults += [
        f"{where}: lacks {need}, without which {contract.program} does not start"
        for need in contract.missing(environ)
    ]
    return faults


def running(docs: Docs, contract: EnvContract) -> list[dict[str, Any]]:
    """Containers of workloads that run ``contract``'s program with at least one replica."""
    return [
        container
        for doc, container in containers(docs)
        if program_of(container) is contract and doc["spec"].get("replicas", 1) >= 1
    ]


def site_faults(docs: Docs) -> list[str]:
    """What the site lacks: a router, a controller, an observer, etcd, any unit."""
    faults = [
        f"no {role} runs ({contract.program})"
        for role, contract in (("router", ROUTER), ("controller", CONTROLLER))
        if not running(docs, contract)
    ]
    if not running(docs, OBSERVER):
        faults.append(f"no observer runs ({OBSERVER.program}): the site would report nothing")
    etcd = [
        doc
        for doc, container in containers(docs)
        if doc["kind"] == "StatefulSet" and container.get("command", [""])[0] == "etcd"
    ]
    if not etcd:
        faults.append("no etcd member (a StatefulSet running etcd)")
    units = {
        env.get("value")
        for container in running(docs, UNIT)
        for env in container["env"]
        if env["name"] == "WATERTIGHT_UNIT"
    }
    faults += [f"no instance of unit {unit}" for unit in TOPOLOGY.units if unit not in units]
    return faults


def all_faults(docs: Docs) -> list[str]:
    faults = [f for doc, container in containers(docs) for f in container_faults(doc, container)]
    return faults + site_faults(docs)


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("site", SITES)
def test_every_container_gets_exactly_what_its_program_reads_and_needs(
    deployed: dict[tuple[str, str], Docs], site: str, source: str
) -> None:
    faults = all_faults(deployed[site, source])
    assert faults == [], f"{len(faults)} faults in {site} ({source}):\n" + "\n".join(faults)


def test_every_variable_the_image_sets_for_all_roles_is_read_by_every_program() -> None:
    image = image_environment()
    assert "WATERTIGHT_TOPOLOGY" in image
    for contract in PROGRAMS.values():
        assert contract.unknown(image) == [], contract.program


def test_the_check_finds_an_ignored_variable_a_missing_need_and_a_missing_observer(
    deployed: dict[tuple[str, str], Docs],
) -> None:
    # Proves the acceptance test can fail: the faults the review found, put back.
    router = {
        "kind": "Deployment",
        "metadata": {"name": "router"},
        "spec": {
            "replicas": 2,
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "router",
                            "command": ["python", "-m", "failover.router"],
                            "env": [
                                {"name": "WATERTIGHT_UNIT_URLS", "value": "{}"},
                                {"name": "WATERTIGHT_ETCD_ENDPOINTS", "value": "[]"},
                            ],
                        }
                    ]
                }
            },
        },
    }
    faults = all_faults([router])
    assert (
        "Deployment router, container router: is given WATERTIGHT_UNIT_URLS, "
        "which python -m failover.router does not read"
    ) in faults
    assert any("lacks WATERTIGHT_ADDRESS_MAP or WATERTIGHT_UNIT_URL_TEMPLATE" in f for f in faults)
    assert any(f.startswith("no observer runs") for f in faults)
    assert "no instance of unit u07" in faults
    assert not any("no router" in f for f in faults)
    docs = deployed["production", "pulumi-stack"]
    without_observer = [d for d in docs if "observer" not in d["metadata"]["name"]]
    assert any(f.startswith("no observer runs") for f in all_faults(without_observer))


def chart_test_token(key: str) -> str:
    """What a test Secret holds under ``key``: each role its own token, as in a deployment."""
    return (
        "alice chart-test-approver-token\n" if key == "approvers" else f"chart-test-{key}-token\n"
    )


def materialise(
    docs: Docs, pod: dict[str, Any], container: dict[str, Any], root: Path
) -> dict[str, str]:
    """The container's environment with its mounted files written under ``root``: every
    ConfigMap key and the token where the pod mounts them, paths in values moved along."""
    config_maps = {d["metadata"]["name"]: d["data"] for d in docs if d["kind"] == "ConfigMap"}
    volumes = {v["name"]: v for v in pod["volumes"]}
    for mount in container.get("volumeMounts", []):
        volume = volumes.get(mount["name"], {})
        target = root / mount["mountPath"].lstrip("/")
        target.mkdir(parents=True, exist_ok=True)
        for source in volume.get("projected", {}).get("sources", [volume]):
            for key, text in config_maps.get(source.get("configMap", {}).get("name"), {}).items():
                (target / key).write_text(text, encoding="utf-8")
            for item in source.get("secret", {}).get("items", []):
                (target / item["path"]).write_text(chart_test_token(item["key"]), encoding="utf-8")
    environ = {**image_environment(), **{e["name"]: e.get("value", "") for e in container["env"]}}
    return {
        name: str(root / value.lstrip("/")) if value.startswith("/") else value
        for name, value in environ.items()
    }


@pytest.mark.parametrize("site", SITES)
def test_each_program_loads_the_configuration_the_chart_gives_it(
    deployed: dict[tuple[str, str], Docs],
    site: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Names are not enough: each program's own loaders read the rendered values and files.
    docs = deployed[site, "pulumi-stack"]
    loaded: set[str] = set()
    for index, (doc, container) in enumerate(containers(docs)):
        contract = program_of(container)
        if contract is None:
            continue
        pod = doc["spec"]["template"]["spec"]
        environ = materialise(docs, pod, container, tmp_path / str(index))
        for name in list(os.environ):
            if name.upper().startswith("WATERTIGHT_"):
                monkeypatch.delenv(name)
        for name, value in environ.items():
            monkeypatch.setenv(name, value)
        contract.check(os.environ)
        load_as(contract, site)
        loaded.add(contract.program)
    assert loaded == {c.program for c in PROGRAMS.values()}


def load_as(contract: EnvContract, site: str) -> None:
    """What the program's main does with its settings before it opens any connection."""
    if contract is UNIT:
        unit = UnitSettings()
        assert unit.site == site
        assert unit.credentials().verify("chart-test-replication-token", Role.REPLICATION)
        assert unit.topology is not None and load_topology(unit.topology) == TOPOLOGY
        assert unit.host == "0.0.0.0" and unit.etcd_endpoints
    elif contract is ROUTER:
        router = RouterSettings()
        assert router.address_map is not None and router.etcd_endpoints
        assert AddressMap.from_file(router.address_map).url("u00", site).startswith("http")
    else:
        settings = ControllerSettings() if contract is CONTROLLER else ObserverSettings()
        topology, addresses = load_site_settings(settings)
        assert topology == TOPOLOGY and settings.site == site
        assert len(addresses.instances()) == len(TOPOLOGY.units) * len(SITES)
        if isinstance(settings, ControllerSettings):
            assert settings.credentials().verify("chart-test-operator-token", Role.OPERATOR)
            assert settings.records_database_url().endswith(f"records-{site}.db")
