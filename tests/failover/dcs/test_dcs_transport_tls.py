"""Which etcd endpoints the transport accepts: https goes with this process's TLS
directory, plain http without one; any other mix is refused, naming the endpoint."""

from __future__ import annotations

from pathlib import Path

import pytest

from failover.dcs.transport import Transport
from failover.etcd_gateway import gateway_client, new_session, parse_endpoint
from failover.tls import ENV, TlsFiles
from infra.local.certificates import issue_local_pki


@pytest.fixture(scope="module")
def identity(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return issue_local_pki(tmp_path_factory.mktemp("pki"), ["controller"])["controller"]


def test_endpoints_are_http_or_https_urls_with_a_port() -> None:
    assert parse_endpoint("https://127.0.0.1:2379") == ("https", "127.0.0.1", 2379)
    assert parse_endpoint("http://etcd:2379") == ("http", "etcd", 2379)
    assert parse_endpoint("127.0.0.1:2379") == ("http", "127.0.0.1", 2379)
    for bad in ("https://etcd", "ftp://etcd:21"):
        with pytest.raises(ValueError, match="must look like"):
            parse_endpoint(bad)


def test_an_https_endpoint_presents_this_process_certificate_and_trusts_only_its_ca(
    identity: Path,
) -> None:
    client = gateway_client("https://127.0.0.1:2379", 0.5, TlsFiles.from_directory(identity))
    assert client.base_url == "https://127.0.0.1:2379"
    assert client.session.verify == str(identity / "ca.crt")
    assert client.session.cert == (str(identity / "tls.crt"), str(identity / "tls.key"))


def test_an_https_endpoint_without_a_tls_directory_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(ENV, raising=False)
    with pytest.raises(ValueError, match=rf"'https://127.0.0.1:2379' is https.*{ENV}"):
        Transport(["https://127.0.0.1:2379"], timeout=0.5)


def test_a_plain_endpoint_in_a_process_with_a_tls_directory_is_refused_by_name(
    identity: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV, str(identity))
    with pytest.raises(ValueError, match=r"'http://127.0.0.1:2379' is plain HTTP"):
        Transport(["https://127.0.0.1:2389", "http://127.0.0.1:2379"], timeout=0.5)


def test_a_plain_endpoint_without_a_tls_directory_stays_plain(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(ENV, raising=False)
    client = gateway_client("http://127.0.0.1:2379", 0.5, None)
    assert client.base_url == "http://127.0.0.1:2379" and client.session.cert is None


def test_a_ca_bundle_in_the_environment_does_not_replace_the_etcd_ca(
    identity: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    monkeypatch.setenv("CURL_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    client = gateway_client("https://127.0.0.1:2379", 0.5, TlsFiles.from_directory(identity))
    settings = client.session.merge_environment_settings(client.base_url, {}, None, None, None)
    assert settings["verify"] == str(identity / "ca.crt")


def test_a_session_for_the_watch_stream_presents_the_same_certificate_and_ca(
    identity: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    with new_session(TlsFiles.from_directory(identity)) as session:
        settings = session.merge_environment_settings(
            "https://127.0.0.1:2379", {}, None, None, None
        )
        assert settings["verify"] == str(identity / "ca.crt")
        assert session.cert == (str(identity / "tls.crt"), str(identity / "tls.key"))
    with new_session(None) as plain:
        assert plain.cert is None
