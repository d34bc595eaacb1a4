"""Which etcd endpoints the unit's lease client accepts: https goes with this process's
TLS directory, plain http without one; any other mix is refused, naming the endpoint."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.etcd_client import EtcdClient, GatewayEndpoint
from failover.tls import ENV, TlsFiles
from infra.local.certificates import issue_local_pki


@pytest.fixture(scope="module")
def identity(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return issue_local_pki(tmp_path_factory.mktemp("pki"), ["unit"])["unit"]


def test_an_https_endpoint_presents_the_units_certificate_and_trusts_only_its_ca(
    identity: Path,
) -> None:
    endpoint = GatewayEndpoint("https://127.0.0.1:2379", 0.5, TlsFiles.from_directory(identity))
    try:
        assert endpoint._client.base_url == "https://127.0.0.1:2379"
        assert endpoint._client.session.verify == str(identity / "ca.crt")
        assert endpoint._client.session.cert == (
            str(identity / "tls.crt"),
            str(identity / "tls.key"),
        )
    finally:
        endpoint.close()


def test_an_https_endpoint_without_a_tls_directory_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(ENV, raising=False)
    with pytest.raises(ValueError, match=rf"'https://127.0.0.1:2379' is https.*{ENV}"):
        EtcdClient(["https://127.0.0.1:2379"])


def test_a_plain_endpoint_in_a_process_with_a_tls_directory_is_refused_by_name(
    identity: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV, str(identity))
    with pytest.raises(ValueError, match=r"'http://127.0.0.1:2379' is plain HTTP"):
        EtcdClient(["http://127.0.0.1:2379"])


def test_an_endpoint_of_another_scheme_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"'ftp://127.0.0.1:21' must look like"):
        GatewayEndpoint("ftp://127.0.0.1:21", 0.5)


def test_a_ca_bundle_in_the_environment_does_not_replace_the_etcd_ca(
    identity: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    endpoint = GatewayEndpoint("https://127.0.0.1:2379", 0.5, TlsFiles.from_directory(identity))
    try:
        session = endpoint._client.session
        settings = session.merge_environment_settings(
            "https://127.0.0.1:2379", {}, None, None, None
        )
        assert settings["verify"] == str(identity / "ca.crt")
    finally:
        endpoint.close()
