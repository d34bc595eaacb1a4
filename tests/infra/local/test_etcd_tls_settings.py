"""A TLS etcd cluster's URLs and command lines, without starting etcd: every client and
peer address is https, every member requires a certificate from the CA on both ports,
and a cluster that could not work is refused before anything starts."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from failover.tls import ENV
from failover.topology import load_topology
from infra.local.certificates import issue_local_pki
from infra.local.etcd_cluster import (
    EtcdCluster,
    EtcdClusterError,
    EtcdMember,
    behind_proxy,
    client_endpoints,
    with_tls,
)
from infra.local.foundation import start_foundation
from infra.local.run_record import fresh_plan
from infra.local.state import PlatformError, PlatformState
from infra.local.supervisor import Supervisor

SITES = ("production", "same-city", "remote-dr")
REPO = Path(__file__).resolve().parents[3]
NO_ETCD = Path("/bin/true")  # never started here


class FakeProxy:
    """Ingress and listeners at fixed ports: 30000 + the destination's port."""

    def peer_ingress(self, dst_site: str, dst_host: str, dst_port: int) -> tuple[str, int]:
        return "127.0.0.1", 30000 + dst_port

    def listener_for(
        self, src_site: str, dst_site: str, dst_host: str, dst_port: int
    ) -> tuple[str, int]:
        return (dst_host, dst_port) if src_site == dst_site else ("127.0.0.1", 30000 + dst_port)

    def set_peer_ids(self, ids: Mapping[str, str]) -> None: ...


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return issue_local_pki(tmp_path_factory.mktemp("pki"), [*SITES, "operator"])


@pytest.fixture
def operator(pki: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(ENV, str(pki["operator"]))
    return pki["operator"]


def members() -> list[EtcdMember]:
    return [EtcdMember(site, 2379 + 10 * i, 2380 + 10 * i) for i, site in enumerate(SITES)]


def tls_cluster(tmp_path: Path, pki: dict[str, Path], routed: bool = False) -> EtcdCluster:
    planned = behind_proxy(members(), FakeProxy()) if routed else members()
    tls = {site: pki[site] for site in SITES}
    return EtcdCluster(Supervisor(tmp_path), planned, binary=NO_ETCD, tls=tls)


def flags(argv: list[str]) -> dict[str, str]:
    return dict(arg.split("=", 1) if "=" in arg else (arg, "") for arg in argv[1:])


def test_a_tls_member_serves_clients_and_peers_on_https_urls_only(
    tmp_path: Path, pki: dict[str, Path], operator: Path
) -> None:
    cluster = tls_cluster(tmp_path, pki)
    got = flags(cluster.argv("same-city"))
    assert got["--listen-client-urls"] == got["--advertise-client-urls"] == "https://127.0.0.1:2389"
    assert got["--listen-peer-urls"] == got["--initial-advertise-peer-urls"]
    assert got["--listen-peer-urls"] == "https://127.0.0.1:2390"
    assert all(
        url.split("=", 1)[1].startswith("https://") for url in got["--initial-cluster"].split(",")
    )
    assert set(cluster.client_urls.values()) == {
        f"https://127.0.0.1:{p}" for p in (2379, 2389, 2399)
    }


def test_a_tls_member_requires_client_certificates_from_its_sites_files_on_both_ports(
    tmp_path: Path, pki: dict[str, Path], operator: Path
) -> None:
    got = flags(tls_cluster(tmp_path, pki).argv("remote-dr"))
    own = pki["remote-dr"]
    assert got["--cert-file"] == got["--peer-cert-file"] == str(own / "tls.crt")
    assert got["--key-file"] == got["--peer-key-file"] == str(own / "tls.key")
    assert got["--trusted-ca-file"] == got["--peer-trusted-ca-file"] == str(own / "ca.crt")
    assert "--client-cert-auth" in got and "--peer-client-cert-auth" in got


def test_a_plain_cluster_has_http_urls_and_no_certificate_flags(tmp_path: Path) -> None:
    cluster = EtcdCluster(Supervisor(tmp_path), members(), binary=NO_ETCD)
    argv = cluster.argv("production")
    assert not [arg for arg in argv if "cert" in arg or "https" in arg]
    assert cluster.client_urls["production"] == "http://127.0.0.1:2379"


def test_peers_routed_through_the_proxy_advertise_its_ingress_over_https(
    tmp_path: Path, pki: dict[str, Path], operator: Path
) -> None:
    cluster = tls_cluster(tmp_path, pki, routed=True)
    got = flags(cluster.argv("production"))
    assert got["--initial-advertise-peer-urls"] == "https://127.0.0.1:32380"
    assert got["--listen-peer-urls"] == "https://127.0.0.1:2380"
    assert "remote-dr=https://127.0.0.1:32400" in got["--initial-cluster"]


def test_routing_members_already_marked_tls_gives_https_ingress_urls() -> None:
    routed = behind_proxy([with_tls(m) for m in members()], FakeProxy())
    assert [m.advertised_peer_url for m in routed] == [
        "https://127.0.0.1:32380",
        "https://127.0.0.1:32390",
        "https://127.0.0.1:32400",
    ]


def test_client_endpoints_of_a_tls_cluster_are_https_direct_and_through_the_proxy(
    tmp_path: Path, pki: dict[str, Path], operator: Path
) -> None:
    cluster = tls_cluster(tmp_path, pki, routed=True)
    assert client_endpoints(cluster, FakeProxy(), "same-city") == [
        "https://127.0.0.1:2389",
        "https://127.0.0.1:32379",
        "https://127.0.0.1:32399",
    ]


def test_a_tls_cluster_without_a_directory_for_every_site_is_refused(
    tmp_path: Path, pki: dict[str, Path], operator: Path
) -> None:
    with pytest.raises(
        EtcdClusterError, match="no TLS directory for the etcd members of remote-dr"
    ):
        EtcdCluster(
            Supervisor(tmp_path), members(), binary=NO_ETCD,
            tls={s: pki[s] for s in SITES[:2]},
        )  # fmt: skip


def test_a_tls_cluster_in_a_process_without_its_own_certificate_is_refused(
    tmp_path: Path, pki: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV, raising=False)
    with pytest.raises(EtcdClusterError, match=ENV):
        tls_cluster(tmp_path, pki)


def test_members_marked_tls_without_directories_are_refused(tmp_path: Path) -> None:
    with pytest.raises(EtcdClusterError, match="marked TLS"):
        EtcdCluster(Supervisor(tmp_path), [with_tls(m) for m in members()], binary=NO_ETCD)


@pytest.mark.parametrize(("recorded_scheme", "tls"), [("https", False), ("http", True)])
def test_a_recorded_platform_restarts_only_as_it_ran_with_or_without_tls(
    tmp_path: Path, pki: dict[str, Path], operator: Path, recorded_scheme: str, tls: bool
) -> None:
    topology = load_topology(REPO / "topology.yaml")
    sites = list(topology.site_names)
    recorded = {s: [f"{recorded_scheme}://127.0.0.1:{40000 + i}"] for i, s in enumerate(sites)}
    previous = PlatformState(
        state_dir=str(tmp_path), topology_file="topology.yaml", topology_name=topology.name,
        sites=sites, router_url="", proxy_control_url="", etcd_client_urls={},
        credentials_dir=str(tmp_path / "credentials"),
        etcd_peer_urls=recorded,
    )  # fmt: skip
    supervisor = Supervisor(tmp_path)
    with pytest.raises(PlatformError, match="restarts on its data only as it ran"):
        start_foundation(
            supervisor, topology, fresh_plan(topology), previous, lambda *_: None, 1.0,
            NO_ETCD, tls={s: pki["production"] for s in sites} if tls else None,
        )  # fmt: skip
    assert supervisor.pids() == {}  # refused before the proxy started
