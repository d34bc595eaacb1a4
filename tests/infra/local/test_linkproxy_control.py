"""The link proxy as its own process, driven through its control API."""

from __future__ import annotations

import socket
import stat
from collections.abc import Iterator

import httpx
import pytest

from infra.local.linkproxy_client import (
    PROCESS_NAME,
    LinkProxyClient,
    LinkProxyError,
    start_link_proxy,
)
from infra.local.linkproxy_modes import BLACKHOLE, LinkMode
from infra.local.supervisor import Supervisor

SITES = ("production", "same-city", "remote-dr")
pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Supervisor]:
    supervisor = Supervisor(tmp_path_factory.mktemp("proxy") / "state")
    yield supervisor
    supervisor.stop_all(grace=1.5)


@pytest.fixture(scope="module")
def module_proxy(shared: Supervisor) -> LinkProxyClient:
    return start_link_proxy(shared, SITES)


@pytest.fixture
def proxy(module_proxy: LinkProxyClient) -> Iterator[LinkProxyClient]:
    module_proxy.heal()
    yield module_proxy
    module_proxy.heal()


def test_the_token_file_is_private_and_required(proxy: LinkProxyClient, shared: Supervisor) -> None:
    token_file = shared.state_dir / "linkproxy.token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    answer = httpx.get(f"{proxy.control_url}/v1/links", timeout=5)
    assert answer.status_code == 401
    assert answer.json()["error"] == "unauthorized"
    assert httpx.get(f"{proxy.control_url}/healthz", timeout=5).status_code == 200


def test_modes_set_through_the_api_show_in_the_link_table(proxy: LinkProxyClient) -> None:
    proxy.set_mode("same-city", "production", BLACKHOLE)
    proxy.set_site_links("remote-dr", LinkMode(kind="latency", latency_ms=50))
    table = {(row["a"], row["b"]): row["mode"]["kind"] for row in proxy.links()}
    assert table == {
        ("production", "same-city"): "blackhole",
        ("production", "remote-dr"): "latency",
        ("remote-dr", "same-city"): "latency",
    }
    proxy.heal()
    assert {row["mode"]["kind"] for row in proxy.links()} == {"pass"}


def test_base_delays_set_through_the_api_show_in_the_link_table_and_survive_heal(
    proxy: LinkProxyClient,
) -> None:
    try:
        proxy.set_base_delay("remote-dr", "production", 15)
        proxy.set_mode("production", "remote-dr", BLACKHOLE)
        proxy.heal()
        table = {(row["a"], row["b"]): row["base_delay_ms"] for row in proxy.links()}
        assert table == {
            ("production", "same-city"): 0.0,
            ("production", "remote-dr"): 15.0,
            ("remote-dr", "same-city"): 0.0,
        }
        with pytest.raises(LinkProxyError, match="base_delay_ms"):
            proxy.set_base_delay("production", "remote-dr", -1)
    finally:  # the proxy is shared by the module, and heal keeps base delays
        proxy.set_base_delay("production", "remote-dr", 0)


def test_an_unknown_site_is_refused_with_the_known_ones(proxy: LinkProxyClient) -> None:
    with pytest.raises(LinkProxyError, match=r"unknown site 'prod'.*production"):
        proxy.set_mode("prod", "same-city", BLACKHOLE)
    with pytest.raises(LinkProxyError, match="unknown site"):
        proxy.listener_for("production", "mars", "127.0.0.1", 1)


def test_listeners_created_through_the_api_forward_traffic(proxy: LinkProxyClient) -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        host, port = proxy.listener_for("production", "remote-dr", *server.getsockname())
        with socket.create_connection((host, port), timeout=5) as client:
            accepted, _ = server.accept()
            with accepted:
                client.sendall(b"over the wan")
                assert accepted.recv(64) == b"over the wan"


def test_stopping_the_platform_stops_the_proxy(supervisor: Supervisor) -> None:
    proxy = start_link_proxy(supervisor, SITES)
    assert supervisor.alive(PROCESS_NAME)
    supervisor.stop(PROCESS_NAME)
    assert not proxy.healthy()
    assert supervisor.marked_pids() == []


def test_metrics_need_no_token_and_show_each_links_mode(proxy: LinkProxyClient) -> None:
    proxy.set_mode("same-city", "production", BLACKHOLE)
    text = httpx.get(f"{proxy.control_url}/metrics", timeout=5).text
    blackholed = 'a="production",b="same-city",mode="blackhole"'
    assert f"watertight_linkproxy_link_mode{{{blackholed}}} 1.0" in text
    assert 'watertight_linkproxy_link_mode{a="production",b="remote-dr",mode="pass"} 1.0' in text
    assert "watertight_linkproxy_connections_total{" in text
    assert "process_resident_memory_bytes" in text
