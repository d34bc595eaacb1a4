"""Mutual TLS on a real socket (failover/tls.py): a site-to-site listener answers only a
client holding a certificate from the platform's CA, and refuses plain HTTP; a
misconfigured TLS directory stops the process with the file named."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from serving import serving

from failover.tls import ENV, TlsConfigError, TlsFiles, client_verify, from_env, uvicorn_options
from infra.local.certificates import issue_local_pki


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return issue_local_pki(tmp_path_factory.mktemp("tls"), ["production", "operator"])


@pytest.fixture(scope="module")
def stranger(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """A certificate from another CA, valid in every other way."""
    other = issue_local_pki(tmp_path_factory.mktemp("other"), ["operator"])
    return TlsFiles.from_directory(other["operator"])


@pytest.fixture(scope="module")
def listener(pki: dict[str, Path]) -> Iterator[str]:
    app = FastAPI()

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    server, client = (
        TlsFiles.from_directory(pki["production"]),
        TlsFiles.from_directory(pki["operator"]),
    )
    with serving(app, tls=(server, client)) as url:
        yield url


def test_a_client_with_a_certificate_from_the_ca_is_answered(
    listener: str, pki: dict[str, Path]
) -> None:
    verify = client_verify({ENV: str(pki["operator"])})
    assert httpx.get(f"{listener}/healthz", verify=verify).json() == {"status": "ok"}


def test_a_plain_http_request_to_a_tls_listener_is_refused(listener: str) -> None:
    plain = listener.replace("https://", "http://")
    with pytest.raises(httpx.HTTPError):  # the connection ends: no answer, not even a 4xx
        httpx.get(f"{plain}/healthz", timeout=3)


def test_a_client_without_a_certificate_is_refused(listener: str, pki: dict[str, Path]) -> None:
    context = ssl.create_default_context(cafile=str(pki["operator"] / "ca.crt"))
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{listener}/healthz", verify=context, timeout=3)


def test_a_client_certificate_from_another_ca_is_refused(
    listener: str, stranger: TlsFiles, pki: dict[str, Path]
) -> None:
    context = ssl.create_default_context(cafile=str(pki["operator"] / "ca.crt"))
    context.load_cert_chain(str(stranger.cert), str(stranger.key))
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{listener}/healthz", verify=context, timeout=3)


def test_a_server_certificate_from_another_ca_is_not_trusted(
    pki: dict[str, Path], stranger: TlsFiles
) -> None:
    app = FastAPI()

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    own = TlsFiles.from_directory(pki["operator"])
    with serving(app, tls=(stranger, stranger)) as url, pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/healthz", verify=own.client_context(), timeout=3)


def test_without_a_tls_directory_nothing_changes() -> None:
    assert from_env({}) is None
    assert uvicorn_options({}) == {}
    assert client_verify({ENV: "  "}) is True


def test_an_incomplete_tls_directory_names_the_missing_file(tmp_path: Path) -> None:
    (tmp_path / "ca.crt").write_text("x")
    with pytest.raises(TlsConfigError, match=r"tls\.crt is missing"):
        from_env({ENV: str(tmp_path)})


def test_a_key_that_does_not_match_its_certificate_refuses_to_start(
    tmp_path: Path, pki: dict[str, Path]
) -> None:
    for name in ("ca.crt", "tls.crt"):
        (tmp_path / name).write_bytes((pki["production"] / name).read_bytes())
    (tmp_path / "tls.key").write_bytes((pki["operator"] / "tls.key").read_bytes())
    with pytest.raises(TlsConfigError, match="does not hold a usable") as refused:
        from_env({ENV: str(tmp_path)})
    assert "PRIVATE KEY" not in str(refused.value)


def test_the_local_ca_keeps_private_keys_to_their_owner(pki: dict[str, Path]) -> None:
    for directory in pki.values():
        assert (directory / "tls.key").stat().st_mode & 0o077 == 0
