"""Mutual TLS between sites (``tls.enabled``): what the chart renders with it and without.

With it, every site-to-site address is ``https://``, every watertight pod mounts the
site's ``kubernetes.io/tls`` Secret and is pointed at it, the etcd member requires client
and peer certificates, and no probe of a TLS listener is a kubelet ``httpGet`` (the
kubelet cannot present a client certificate). Without it, the chart renders exactly what
it rendered before TLS existed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
from chart_helpers import CHART, KUBE_VERSION, REPO, SITES, Helm, render

from failover.topology import load_topology
from infra.pulumi.site_values import TLS_SECRET, kind_chart_values

TOPOLOGY = load_topology(REPO / "topology.yaml")
TLS_DIR = "/etc/watertight/tls"
PROBE = "/etc/watertight/tls_probe.py"
PROGRAMS = ("unit", "router", "controller", "observer")
TLS_LISTENERS = ("unit", "controller", "etcd")
"""Components whose listener speaks only TLS; the router's customer-facing one stays plain."""
URL = re.compile(r"\bhttps?://[^\s\"'\\,]+")

Docs = list[dict[str, Any]]


def values_file(directory: Path, values: dict[str, Any]) -> list[str]:
    path = directory / "values.json"
    path.write_text(json.dumps(values), encoding="utf-8")
    return ["-f", str(path)]


@pytest.fixture(scope="module")
def tls_rendered(helm: Helm, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Docs]:
    """Each site's kind values with TLS on (https:// addresses, the Secret named)."""
    return {
        site: render(
            helm,
            values_file(tmp_path_factory.mktemp(site), kind_chart_values(TOPOLOGY, site, tls=True)),
        )
        for site in SITES
    }


def component(doc: dict[str, Any]) -> str:
    labels: dict[str, str] = doc["metadata"].get("labels", {})
    return labels.get("app.kubernetes.io/component", "")


def workloads(docs: Docs) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(workload, its one container) for every Deployment and StatefulSet."""
    found = []
    for doc in docs:
        if doc["kind"] in ("Deployment", "StatefulSet"):
            (container,) = doc["spec"]["template"]["spec"]["containers"]
            found.append((doc, container))
    return found


def env_of(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e.get("value", "<from>") for e in container.get("env", [])}


def addresses(docs: Docs) -> dict[str, Any]:
    (config_map,) = [d for d in docs if d["metadata"]["name"] == "watertight-addresses"]
    found: dict[str, Any] = json.loads(config_map["data"]["addresses.json"])
    return found


def site_to_site_urls(docs: Docs) -> list[str]:
    """Every URL the site's programs and etcd member are given: address map, env, args."""
    mapped = addresses(docs)
    urls = [url for by_site in mapped["units"].values() for url in by_site.values()]
    urls += list(mapped["etcd"].values()) + list(mapped["controllers"].values())
    for _, container in workloads(docs):
        for value in [*env_of(container).values(), *container.get("args", [])]:
            urls += URL.findall(value)
    return urls


@pytest.mark.parametrize("site", SITES)
def test_with_tls_every_site_to_site_address_is_https_and_no_plain_one_remains(
    tls_rendered: dict[str, Docs], site: str
) -> None:
    docs = tls_rendered[site]
    urls = site_to_site_urls(docs)
    # 8 units x 3 sites, 3 etcd members, 3 controllers in the map alone.
    assert len(urls) > 8 * 3 + 3 + 3
    assert [u for u in urls if not u.startswith("https://")] == []
    # Nowhere else either, but for the one customer-facing address: the `helm test` Pod
    # calls the router, whose listener stays plain (customer TLS ends at the bank's LB).
    plain = {
        (d["kind"], d["metadata"]["name"], url)
        for d in docs
        for url in URL.findall(json.dumps(d))
        if url.startswith("http://")
    }
    router = "http://watertight-router.watertight.svc:8080"
    assert plain == {("Pod", "watertight-test-transaction", router)}


@pytest.mark.parametrize("site", SITES)
def test_with_tls_every_watertight_pod_mounts_the_sites_secret_read_only_and_is_pointed_at_it(
    tls_rendered: dict[str, Docs], site: str
) -> None:
    seen = set()
    for doc, container in workloads(tls_rendered[site]):
        pod = doc["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert volumes["tls"]["secret"]["secretName"] == TLS_SECRET
        items = {i["key"]: i["path"] for i in volumes["tls"]["secret"]["items"]}
        assert items == {"ca.crt": "ca.crt", "tls.crt": "tls.crt", "tls.key": "tls.key"}
        assert volumes["tls"]["secret"]["defaultMode"] == 0o440
        (mount,) = [m for m in container["volumeMounts"] if m["name"] == "tls"]
        assert mount == {"name": "tls", "mountPath": TLS_DIR, "readOnly": True}
        env = env_of(container)
        if component(doc) in PROGRAMS:
            assert env["WATERTIGHT_TLS_DIR"] == TLS_DIR, doc["metadata"]["name"]
        else:  # etcd reads its flags, and no WATERTIGHT_* variable
            assert component(doc) == "etcd"
            assert not [n for n in env if n.startswith("WATERTIGHT_")]
        seen.add(component(doc))
    assert seen == {*PROGRAMS, "etcd"}


@pytest.mark.parametrize("site", SITES)
def test_with_tls_the_etcd_member_serves_and_peers_only_with_certificates_from_the_ca(
    tls_rendered: dict[str, Docs], site: str
) -> None:
    ((_, etcd),) = [w for w in workloads(tls_rendered[site]) if component(w[0]) == "etcd"]
    args = dict(a.removeprefix("--").split("=", 1) for a in etcd["args"])
    assert args["listen-client-urls"] == "https://0.0.0.0:2379"
    assert args["listen-peer-urls"] == "https://0.0.0.0:2380"
    assert args["advertise-client-urls"] == f"https://{site}-control-plane:32379"
    assert args["initial-advertise-peer-urls"] == f"https://{site}-control-plane:32380"
    members = dict(m.split("=", 1) for m in args["initial-cluster"].split(","))
    assert members == {s: f"https://{s}-control-plane:32380" for s in SITES}
    assert {k: v for k, v in args.items() if "cert" in k or "key" in k or "ca-file" in k} == {
        "cert-file": f"{TLS_DIR}/tls.crt",
        "key-file": f"{TLS_DIR}/tls.key",
        "trusted-ca-file": f"{TLS_DIR}/ca.crt",
        "client-cert-auth": "true",
        "peer-cert-file": f"{TLS_DIR}/tls.crt",
        "peer-key-file": f"{TLS_DIR}/tls.key",
        "peer-trusted-ca-file": f"{TLS_DIR}/ca.crt",
        "peer-client-cert-auth": "true",
    }


@pytest.mark.parametrize("site", SITES)
def test_with_tls_no_probe_of_a_tls_listener_is_an_http_get(
    tls_rendered: dict[str, Docs], site: str
) -> None:
    docs = tls_rendered[site]
    (probe_map,) = [d for d in docs if d["metadata"]["name"] == "watertight-tls-probe"]
    assert probe_map["data"]["tls_probe.py"] == (CHART / "files" / "tls_probe.py").read_text()
    probed = set()
    for doc, container in workloads(docs):
        probes = {k: v for k, v in container.items() if k.endswith("Probe")}
        if component(doc) == "router":
            # Its listener is the plain customer-facing one: the kubelet's httpGet still works.
            assert all("httpGet" in p for p in probes.values())
            continue
        if component(doc) not in TLS_LISTENERS:
            continue
        for name, probe in probes.items():
            assert "httpGet" not in probe, (doc["metadata"]["name"], name)
            if "tcpSocket" in probe:  # etcd's liveness: a socket check, as without TLS
                assert (component(doc), name) == ("etcd", "livenessProbe")
                continue
            command = probe["exec"]["command"]
            assert command[:3] == ["python", PROBE, TLS_DIR], (doc["metadata"]["name"], name)
            assert probe["timeoutSeconds"] >= 3
            probed.add((component(doc), command[3], command[4]))
        # The script is where the command says: in the projected /etc/watertight.
        pod = doc["spec"]["template"]["spec"]
        (config,) = [v for v in pod["volumes"] if v["name"] == "config"]
        sources = config.get("projected", {}).get("sources", [config])
        assert {"name": "watertight-tls-probe"} in [s.get("configMap") for s in sources]
    assert probed == {
        ("unit", "8100", "/healthz"),
        ("unit", "8100", "/readyz"),
        ("controller", "8090", "/healthz"),
        ("etcd", "2379", "/health"),
    }


@pytest.mark.parametrize("site", SITES)
def test_with_tls_every_manifest_validates_against_the_pinned_kubernetes_schema(
    tls_rendered: dict[str, Docs], site: str
) -> None:
    for doc in tls_rendered[site]:
        kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)


def template(helm: Helm, *args: str) -> str:
    done = helm("template", "watertight", str(CHART), "--namespace", "watertight", *args)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("site", SITES)
def test_without_tls_the_chart_renders_exactly_what_it_rendered_before(
    helm: Helm, site: str
) -> None:
    site_values = ["-f", str(CHART / f"values-{site}.yaml")]
    before = template(helm, *site_values)
    # A secret name alone switches nothing on; tls.enabled=false is the default.
    assert template(helm, *site_values, "--set", "tls.secretName=watertight-tls") == before
    assert template(helm, *site_values, "--set", "tls.enabled=false") == before
    assert "https://" not in before
    assert "WATERTIGHT_TLS_DIR" not in before
    assert "tls_probe" not in before
    assert "--client-cert-auth" not in before


def refused(helm: Helm, *args: str) -> str:
    done = helm("template", "watertight", str(CHART), *args)
    assert done.returncode != 0, "helm accepted values that must be refused"
    return done.stderr


def test_tls_without_a_secret_name_is_refused_saying_which_secret_to_name(helm: Helm) -> None:
    error = refused(helm, "--set", "site=production", "--set", "tls.enabled=true")
    assert "values: tls.secretName: required with tls.enabled=true" in error
    assert "kubernetes.io/tls Secret holding ca.crt, tls.crt and tls.key" in error


@pytest.mark.parametrize(
    ("path", "url"),
    [
        ("peerSites.same-city.etcdPeerUrl", "http://same-city:32380"),
        ("peerSites.remote-dr.unitUrlTemplate", "http://dr:{nodePort}"),
        ("etcd.advertiseClientUrl", "http://production:32379"),
        ("controller.advertiseUrl", "http://production:30090"),
    ],
)
def test_tls_with_a_plain_http_site_to_site_url_is_refused_naming_the_value(
    helm: Helm, tmp_path: Path, path: str, url: str
) -> None:
    tls_on = values_file(tmp_path, kind_chart_values(TOPOLOGY, "production", tls=True))
    error = refused(helm, *tls_on, "--set", f"{path}={url}")
    assert f'values: {path}: "{url}" is not https:// but tls.enabled=true' in error


def test_the_kind_values_files_stay_plain_and_tls_values_differ_only_in_scheme_and_tls() -> None:
    # The committed values-<site>.yaml are the plain rehearsal; TLS is the same wiring.
    for site in SITES:
        plain = json.dumps(kind_chart_values(TOPOLOGY, site))
        tls = kind_chart_values(TOPOLOGY, site, tls=True)
        assert tls.pop("tls") == {"enabled": True, "secretName": TLS_SECRET}
        assert json.dumps(tls).replace("https://", "http://") == plain
