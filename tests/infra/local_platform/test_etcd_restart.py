"""A real three-member etcd cluster formed behind one set of peer addresses restarts on its
data behind another: bridged, told its new peer URLs, every key kept."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from infra.local.etcd_cluster import EtcdCluster, EtcdMember, plan_members
from infra.local.etcd_restart import bridge_targets, restart_members
from infra.local.peer_bridge import PeerBridge
from infra.local.ports import free_ports, port_is_free
from infra.local.supervisor import Supervisor

SITES = ("production", "same-city", "remote-dr")


@pytest.fixture
def supervisor(tmp_path: Path) -> Iterator[Supervisor]:
    sup = Supervisor(tmp_path / "state")
    yield sup
    sup.stop_all(grace=1.5)


def _behind(members: list[EtcdMember], ingress: list[int]) -> list[EtcdMember]:
    """The members advertising ``ingress`` ports as their peer URLs (a proxy stand-in)."""
    return [
        replace(m, advertise_peer_url=f"http://127.0.0.1:{port}")
        for m, port in zip(members, ingress, strict=True)
    ]


def _ingress(members: list[EtcdMember], ports: list[int]) -> PeerBridge:
    """A relay from each ``ports`` entry to a member's peer port: a link proxy's ingress."""
    ingress = PeerBridge(ports)
    ingress.start({p: ("127.0.0.1", m.peer_port) for p, m in zip(ports, members, strict=True)})
    return ingress


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _put(url: str, key: str, value: str) -> None:
    body = {"key": _b64(key), "value": _b64(value)}
    httpx.post(f"{url}/v3/kv/put", json=body, timeout=5).raise_for_status()


def _get(url: str, key: str) -> str:
    body = {"key": _b64(key)}
    kvs = httpx.post(f"{url}/v3/kv/range", json=body, timeout=5).json().get("kvs", [])
    return base64.b64decode(kvs[0]["value"]).decode() if kvs else ""


def _peer_urls(url: str) -> dict[str, list[str]]:
    members = httpx.post(f"{url}/v3/cluster/member/list", json={}, timeout=5).json()["members"]
    return {m["name"]: m["peerURLs"] for m in members}


@pytest.mark.integration
def test_a_cluster_restarted_behind_new_peer_addresses_keeps_its_keys_and_learns_them(
    supervisor: Supervisor,
) -> None:
    members = plan_members(SITES)
    ports = free_ports(6)
    old_ports, new_ports = ports[:3], ports[3:]
    with _ingress(members, old_ports):
        first = EtcdCluster(supervisor, _behind(members, old_ports))
        first.start(timeout=60)
        _put(first.client_urls["production"], "/watertight/routes/u00", "production@1")
        first.stop()

    moved: list[dict[str, str]] = []
    recorded = {m.site: [f"http://127.0.0.1:{p}"] for m, p in zip(members, old_ports, strict=True)}
    with _ingress(members, new_ports):
        second = EtcdCluster(supervisor, _behind(members, new_ports))
        assert bridge_targets(recorded, second) == {
            old: ("127.0.0.1", new) for old, new in zip(old_ports, new_ports, strict=True)
        }
        try:
            restart_members(second, PeerBridge(old_ports), recorded, moved.append, timeout=60)
            url = second.client_urls["remote-dr"]
            assert _get(url, "/watertight/routes/u00") == "production@1"
            expected = {m.site: [m.advertised_peer_url] for m in second.members.values()}
            assert _peer_urls(url) == expected
            assert moved == [{site: urls[0] for site, urls in expected.items()}]
            assert all(port_is_free(p) for p in old_ports), "the bridge outlived the restart"
            _put(url, "/watertight/after", "written over the new peer URLs")
        finally:
            second.stop()
