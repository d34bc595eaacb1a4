"""The stacks with mutual TLS (secret config ``watertight:tls``), under Pulumi's mocks.

Each stack is given its own site's certificate (one local CA for the three, as a bank's
PKI would issue them) and https:// site-to-site URLs, exactly as an operator would set
them (``pulumi config set --secret watertight:tls``), and runs the real program.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from pulumi.runtime import rpc
from pulumi_runs import DRIVER, REPO, STACKS, Run, k8s, result_of, run_stacks

from failover.tls import CA_FILE, CERT_FILE, KEY_FILE
from infra.local.certificates import issue_local_pki
from infra.pulumi.site_values import TLS_SECRET

TLS_DIR = "/etc/watertight/tls"


def https(endpoints: dict[str, Any]) -> dict[str, Any]:
    """A stack file's endpoints with every site-to-site URL https:// (routerUrl stays)."""
    return {
        key: value.replace("http://", "https://") if key not in ("routerUrl", "cidrs") else value
        for key, value in endpoints.items()
    }


def tls_overrides(stack: str, tls: dict[str, str] | None) -> list[str]:
    """``KEY=VALUE`` overrides of the driver: https:// URLs, and the TLS object if given."""
    config = yaml.safe_load((REPO / "infra" / "pulumi" / f"Pulumi.{stack}.yaml").read_text())
    config = config["config"]
    peers = {site: https(e) for site, e in config["watertight:peers"].items()}
    pairs = [
        f"advertise={json.dumps(https(config['watertight:advertise']))}",
        f"peers={json.dumps(peers)}",
    ]
    return pairs + ([f"tls={json.dumps(tls)}"] if tls is not None else [])


def drive(stack: str, *pairs: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(DRIVER), stack, *pairs],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=180,
        check=False,
    )


def pem_objects(directory: Path) -> dict[str, dict[str, str]]:
    """Per site, the ``watertight:tls`` object its stack would be given."""
    issued = issue_local_pki(directory, STACKS)
    return {
        site: {name: (path / name).read_text() for name in (CA_FILE, CERT_FILE, KEY_FILE)}
        for site, path in issued.items()
    }


@pytest.fixture(scope="module")
def material(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, str]]:
    return pem_objects(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def runs(material: dict[str, dict[str, str]]) -> dict[str, Run]:
    overrides = {stack: tls_overrides(stack, material[stack]) for stack in STACKS}
    return {stack: result_of(done) for stack, done in run_stacks(STACKS, overrides).items()}


@pytest.mark.parametrize("stack", STACKS)
def test_a_stack_with_tls_creates_its_sites_kubernetes_tls_secret_with_the_ca_as_a_secret(
    runs: dict[str, Run], material: dict[str, dict[str, str]], stack: str
) -> None:
    secrets = {s["inputs"]["metadata"]["name"]: s for s in k8s(runs[stack], "Secret")}
    assert set(secrets) == {"watertight-credentials", TLS_SECRET}
    secret = secrets[TLS_SECRET]
    assert secret["inputs"]["type"] == "kubernetes.io/tls"
    assert secret["inputs"]["metadata"]["namespace"] == "watertight"
    assert secret["name"] == f"{stack}-tls"
    assert secret["parent"].endswith(f"watertight:index:Site::{stack}")
    # Still a Pulumi secret on the wire (the engine encrypts it in the state), with this
    # site's own certificate under exactly the three keys the chart mounts.
    string_data = secret["inputs"]["stringData"]
    assert string_data[rpc._special_sig_key] == rpc._special_secret_sig
    assert string_data["value"] == material[stack]


@pytest.mark.parametrize("stack", STACKS)
def test_a_stack_with_tls_keeps_its_private_key_out_of_every_other_resource_and_export(
    runs: dict[str, Run], material: dict[str, dict[str, str]], stack: str
) -> None:
    (secret,) = [s for s in k8s(runs[stack], "Secret") if s["name"] == f"{stack}-tls"]
    others = [r for r in runs[stack]["resources"] if r is not secret]
    key_body = material[stack][KEY_FILE].splitlines()[1]  # a line of the key's base64
    assert key_body not in json.dumps(others)
    assert key_body not in json.dumps(runs[stack]["exports"])


@pytest.mark.parametrize("stack", STACKS)
def test_a_stack_with_tls_deploys_the_chart_with_tls_on_and_https_everywhere(
    runs: dict[str, Run], stack: str
) -> None:
    deployments = k8s(runs[stack], "Deployment")
    assert len(deployments) == 8 + 3
    for deployment in deployments:
        pod = deployment["inputs"]["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert volumes["tls"]["secret"]["secretName"] == TLS_SECRET
        (container,) = pod["containers"]
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env["WATERTIGHT_TLS_DIR"] == TLS_DIR
        assert all(
            url.startswith("https://") for url in json.loads(env["WATERTIGHT_ETCD_ENDPOINTS"])
        )
    (statefulset,) = k8s(runs[stack], "StatefulSet")
    (etcd,) = statefulset["inputs"]["spec"]["template"]["spec"]["containers"]
    assert "--client-cert-auth=true" in etcd["args"]
    assert "--peer-client-cert-auth=true" in etcd["args"]
    exports = runs[stack]["exports"]
    assert exports["etcdPeerEndpoint"].startswith("https://")
    assert exports["controllerEndpoint"].startswith("https://")
    # The customer-facing router stays plain: customer TLS ends at the bank's load balancer.
    assert exports["routerEndpoint"] == f"http://{stack}-control-plane:30080"


def test_a_stack_with_tls_but_a_plain_http_url_is_refused_naming_the_key(
    material: dict[str, dict[str, str]],
) -> None:
    pairs = tls_overrides("production", material["production"])
    pairs[1] = pairs[1].replace(
        "https://same-city-control-plane:32380", "http://same-city-control-plane:32380"
    )
    done = drive("production", *pairs)
    assert done.returncode != 0
    assert (
        "Pulumi.production.yaml: watertight:peers.same-city.etcdPeerUrl: "
        "http://same-city-control-plane:32380: watertight:tls is set, so every site-to-site "
        "URL must be https://"
    ) in done.stderr


def test_a_stack_with_https_urls_but_no_tls_is_refused_naming_the_key() -> None:
    done = drive("production", *tls_overrides("production", None))
    assert done.returncode != 0
    assert (
        "Pulumi.production.yaml: watertight:advertise.unitUrlTemplate: "
        "https://production-control-plane:{nodePort}: an https:// site-to-site URL needs "
        "watertight:tls"
    ) in done.stderr


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"drop": KEY_FILE}, "watertight:tls: missing tls.key"),
        ({"path": CA_FILE}, "watertight:tls: ca.crt not PEM (give the file contents)"),
    ],
    ids=["missing-key", "path-instead-of-pem"],
)
def test_tls_material_missing_a_key_or_not_pem_fails_the_deployment_naming_it(
    material: dict[str, dict[str, str]], change: dict[str, str], message: str
) -> None:
    tls = dict(material["production"])
    if "drop" in change:
        del tls[change["drop"]]
    else:
        tls[change["path"]] = f"/home/operator/pki/{change['path']}"
    done = drive("production", *tls_overrides("production", tls))
    assert done.returncode != 0
    assert message in done.stderr
