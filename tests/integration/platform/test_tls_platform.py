"""The local platform started with ``watertight up --tls``: its own CA, one certificate
per site, the router and the operator. Writes still flow (router → unit, replication to
a second site, the controllers, etcd: all over TLS with client certificates), the CLI
drives it with the operator's certificate, and every site-to-site listener — unit
services, controllers, etcd members — refuses plain HTTP and a TLS client without a
certificate. The router's customer-facing listener stays plain (docs/security.md)."""

from __future__ import annotations

import json
import ssl
import uuid
from collections.abc import Iterator

import httpx
import pytest
from platform_helpers import RunningPlatform, watertight

from failover.tls import TlsFiles

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

BODY = {"type": "purchase", "amount_minor": 1, "currency": "CNY"}


@pytest.fixture(scope="module")
def tls_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    state_dir = tmp_path_factory.mktemp("tls-platform")
    result = watertight("up", "--tls", "--json", "--state-dir", str(state_dir))
    try:
        assert result.returncode == 0, result.stderr[-3000:]
        yield RunningPlatform(state_dir, json.loads(result.stdout))
    finally:
        watertight("down", "--state-dir", str(state_dir))


def operator(platform: RunningPlatform) -> TlsFiles:
    return TlsFiles.from_directory(platform.state_dir / "tls" / "operator")


def site_to_site_urls(platform: RunningPlatform) -> dict[str, str]:
    """One https URL of each kind of site-to-site listener: a unit, a controller, etcd."""
    return {
        "unit": _unit_url(platform),
        "controller": str(platform.info["controller_urls"][0]) + "/healthz",
        "etcd": str(next(iter(platform.info["etcd_client_urls"].values()))) + "/health",
    }


def _unit_url(platform: RunningPlatform) -> str:
    record = json.loads((platform.state_dir / "platform.json").read_text())
    ready = record["processes"]["unit-u00-production"]["ready_url"]
    return str(ready).replace("/readyz", "/healthz")


def test_every_site_to_site_address_is_https(tls_platform: RunningPlatform) -> None:
    urls = site_to_site_urls(tls_platform)
    assert all(url.startswith("https://") for url in urls.values()), urls
    assert tls_platform.info["tls_dir"] == str(tls_platform.state_dir / "tls")


def test_a_write_through_the_router_is_acknowledged_and_reads_back(
    tls_platform: RunningPlatform,
) -> None:
    router = tls_platform.router_url
    assert router.startswith("http://")  # the customers' front door
    posted = httpx.post(
        f"{router}/v1/customers/alice/transactions", json=BODY,
        headers={"Idempotency-Key": f"tls-{uuid.uuid4().hex}"}, timeout=15.0,
    )  # fmt: skip
    assert posted.status_code == 201, posted.text  # acknowledged by 2 of 3 sites over TLS
    read = httpx.get(
        f"{router}/v1/customers/alice/transactions/{posted.json()['transaction_id']}",
        timeout=5.0,
    )
    assert read.status_code == 200, read.text


def test_the_cli_drives_the_platform_with_the_operators_certificate(
    tls_platform: RunningPlatform,
) -> None:
    status = tls_platform.status()
    for unit, by_site in status["units"].items():
        primary = status["routes"][unit]["site"]
        assert by_site[primary]["role"] == "primary", (unit, by_site[primary])


@pytest.mark.parametrize("kind", ["unit", "controller", "etcd"])
def test_each_site_to_site_listener_answers_a_certificate_from_the_ca(
    tls_platform: RunningPlatform, kind: str
) -> None:
    url = site_to_site_urls(tls_platform)[kind]
    answer = httpx.get(url, verify=operator(tls_platform).client_context(), timeout=5.0)
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize("kind", ["unit", "controller", "etcd"])
def test_each_site_to_site_listener_refuses_plain_http(
    tls_platform: RunningPlatform, kind: str
) -> None:
    plain = site_to_site_urls(tls_platform)[kind].replace("https://", "http://")
    with pytest.raises(httpx.HTTPError):  # the connection ends without an answer
        httpx.get(plain, timeout=5.0)


@pytest.mark.parametrize("kind", ["unit", "controller", "etcd"])
def test_each_site_to_site_listener_refuses_a_client_without_a_certificate(
    tls_platform: RunningPlatform, kind: str
) -> None:
    url = site_to_site_urls(tls_platform)[kind]
    anonymous = ssl.create_default_context(cafile=str(operator(tls_platform).ca))
    with pytest.raises(httpx.HTTPError):
        httpx.get(url, verify=anonymous, timeout=5.0)
