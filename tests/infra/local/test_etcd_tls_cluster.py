"""A real three-member etcd speaking only mutual TLS: it forms a quorum, our clients read
and write over https with a certificate from the CA, and nothing else gets in — not
plain HTTP, not TLS without a certificate, not a certificate from another CA."""

from __future__ import annotations

import shutil
import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.etcd_client import EtcdClient
from failover.dcs import DcsOutcomeUnknown, DcsUnavailable, EtcdDcs
from failover.tls import ENV
from infra.local.certificates import issue_local_pki
from infra.local.etcd_cluster import EtcdCluster, member_ids, plan_members
from infra.local.etcd_leader import leader_site, move_leader
from infra.local.supervisor import Supervisor

SITES = ("production", "same-city", "remote-dr")

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return issue_local_pki(tmp_path_factory.mktemp("pki"), [*SITES, "operator"])


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory, pki: dict[str, Path]
) -> Iterator[EtcdCluster]:
    """Shared; run as the operator (this process's identity checks the members)."""
    state = tmp_path_factory.mktemp("etcd-tls") / "state"
    with pytest.MonkeyPatch.context() as env:
        env.setenv(ENV, str(pki["operator"]))
        supervisor = Supervisor(state)
        try:
            started = EtcdCluster(supervisor, plan_members(SITES), tls={s: pki[s] for s in SITES})
            started.start(timeout=60)
            yield started
        finally:
            supervisor.stop_all(grace=1.5)


@pytest.fixture
def operator(pki: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(ENV, str(pki["operator"]))
    return pki["operator"]


@pytest.fixture(scope="module")
def foreign(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An identity from another CA (trusts only that CA)."""
    return issue_local_pki(tmp_path_factory.mktemp("foreign"), ["intruder"])["intruder"]


def test_three_tls_members_form_a_quorum_on_https_urls(
    cluster: EtcdCluster, operator: Path
) -> None:
    assert all(url.startswith("https://") for url in cluster.client_urls.values())
    assert all(cluster.healthy(site) for site in SITES)
    assert sorted(member_ids(cluster).values()) == sorted(SITES)


def test_the_dcs_adapter_writes_and_reads_over_https_with_a_certificate(
    cluster: EtcdCluster, operator: Path
) -> None:
    dcs = EtcdDcs(list(cluster.client_urls.values()), timeout=2.0)
    try:
        dcs.put("/watertight/tls/probe", "over-tls")
        found = dcs.get("/watertight/tls/probe")
        assert found is not None and found.value == "over-tls"
    finally:
        dcs.close()


def test_the_units_lease_client_claims_a_key_over_https(
    cluster: EtcdCluster, operator: Path
) -> None:
    etcd = EtcdClient(list(cluster.client_urls.values()), timeout=2.0)
    try:
        lease, _ = etcd.grant(5)
        assert etcd.claim("/watertight/tls/lease", '{"a":1}', lease, "/watertight/tls/r", None)
        assert etcd.get("/watertight/tls/lease") == ('{"a":1}', lease)
        assert etcd.keepalive(lease) > 0
        etcd.revoke(lease)
    finally:
        etcd.close()


@pytest.mark.parametrize("port", ["client", "peer"])
def test_a_plain_http_request_is_refused_and_changes_nothing(
    cluster: EtcdCluster, operator: Path, port: str
) -> None:
    member = cluster.members["production"]
    plain = f"http://{member.host}:{member.client_port if port == 'client' else member.peer_port}"
    body = {"key": "L3dhdGVydGlnaHQvdGxzL3BsYWlu", "value": "cGxhaW4="}  # /watertight/tls/plain
    try:
        answer = httpx.post(f"{plain}/v3/kv/put", json=body, timeout=2.0)
    except httpx.TransportError:
        pass  # refused before any answer
    else:
        assert answer.status_code != 200, answer.text
    dcs = EtcdDcs(list(cluster.client_urls.values()), timeout=2.0)
    try:
        assert dcs.get("/watertight/tls/plain") is None
    finally:
        dcs.close()


@pytest.mark.parametrize("port", ["client", "peer"])
def test_tls_without_a_client_certificate_is_refused(
    cluster: EtcdCluster, pki: dict[str, Path], port: str
) -> None:
    member = cluster.members["same-city"]
    url = member.client_url if port == "client" else member.peer_url
    trusts_the_ca_only = ssl.create_default_context(cafile=pki["operator"] / "ca.crt")
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{url}/version", timeout=2.0, verify=trusts_the_ca_only)


def test_a_certificate_from_another_ca_is_refused_as_surely_not_applied(
    cluster: EtcdCluster, pki: dict[str, Path], foreign: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    mixed = tmp_path / "mixed"  # trusts the cluster's CA, presents the intruder's certificate
    shutil.copytree(foreign, mixed)
    shutil.copy(pki["operator"] / "ca.crt", mixed / "ca.crt")
    monkeypatch.setenv(ENV, str(mixed))
    dcs = EtcdDcs([cluster.client_urls["remote-dr"]], timeout=2.0)
    try:
        with pytest.raises(DcsUnavailable) as raised:
            dcs.put("/watertight/tls/intruder", "x")
        assert not isinstance(raised.value, DcsOutcomeUnknown)
    finally:
        dcs.close()


def test_a_server_outside_our_ca_is_refused_as_surely_not_applied(
    cluster: EtcdCluster, foreign: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV, str(foreign))  # trusts only the other CA
    dcs = EtcdDcs([cluster.client_urls["remote-dr"]], timeout=2.0)
    try:
        with pytest.raises(DcsUnavailable, match="certificate verify failed") as raised:
            dcs.put("/watertight/tls/untrusted", "x")
        assert not isinstance(raised.value, DcsOutcomeUnknown)
    finally:
        dcs.close()


def test_the_raft_leader_moves_over_tls(cluster: EtcdCluster, operator: Path) -> None:
    move_leader(cluster.client_urls, "remote-dr")
    assert leader_site(cluster.client_urls) == "remote-dr"


def test_a_restarted_tls_member_rejoins_on_its_data(cluster: EtcdCluster, operator: Path) -> None:
    cluster.stop_member("same-city")
    assert not cluster.healthy("same-city")
    cluster.start_member("same-city")
    assert cluster.healthy("same-city")
    dcs = EtcdDcs([cluster.client_urls["same-city"]], timeout=2.0)
    try:
        found = dcs.get("/watertight/tls/probe")
        assert found is not None and found.value == "over-tls"
    finally:
        dcs.close()
