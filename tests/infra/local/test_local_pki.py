"""The local platform's own CA (``watertight up --tls``): what a first start makes, what
a restart keeps, and that the driving process presents the operator's certificate."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from failover.tls import ENV, TlsFiles
from failover.topology import load_topology
from infra.local.certificates import OPERATOR_IDENTITY, TLS_DIR, act_as_operator, tls_env
from infra.local.platform import LocalPlatform
from infra.local.state import PlatformError, PlatformState

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(autouse=True)
def own_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """``_pki`` sets this process's TLS identity: undo it after each test, or every later
    test's ``watertight`` subprocess would inherit it (CI once failed so)."""
    monkeypatch.setenv(ENV, "")


TOPOLOGY = load_topology(REPO / "topology.yaml")


def recorded(state_dir: Path, tls_dir: str) -> PlatformState:
    return PlatformState(
        state_dir=str(state_dir), topology_file="topology.yaml", topology_name="t",
        sites=list(TOPOLOGY.site_names), router_url="", proxy_control_url="",
        etcd_client_urls={}, credentials_dir=str(state_dir / "credentials"), tls_dir=tls_dir,
    )  # fmt: skip


def test_a_first_tls_start_makes_one_identity_per_site_the_router_and_the_operator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = LocalPlatform(tmp_path)._pki(TOPOLOGY, None, tls=True)
    assert root == str(tmp_path / TLS_DIR)
    made = sorted(p.name for p in Path(root).iterdir())
    assert made == sorted(["ca", "edge", "operator", *TOPOLOGY.site_names])
    for name in made:
        TlsFiles.from_directory(Path(root) / name)  # each loads: cert, key and CA agree
    assert Path(root, OPERATOR_IDENTITY) == Path(os.environ[ENV])


def test_a_restart_keeps_the_tls_its_first_start_chose(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert LocalPlatform(tmp_path)._pki(TOPOLOGY, recorded(tmp_path, "/pki"), tls=False) == "/pki"
    assert LocalPlatform(tmp_path)._pki(TOPOLOGY, recorded(tmp_path, ""), tls=False) == ""


def test_asking_for_tls_when_restarting_a_plain_platform_is_refused_before_anything_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(PlatformError, match="first started without --tls"):
        LocalPlatform(tmp_path)._pki(TOPOLOGY, recorded(tmp_path, ""), tls=True)
    assert not (tmp_path / TLS_DIR).exists()


def test_a_platform_without_tls_gives_no_process_a_tls_directory_even_one_inherited(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(ENV, "/somewhere/else")
    assert tls_env("", "production") == {}
    act_as_operator("")
    assert ENV not in os.environ
