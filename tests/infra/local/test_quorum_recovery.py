"""Declaring a disaster on a real three-member etcd: refusals, the rebuilt one-member
quorum, and the lost members rejoining afresh (never from their old data)."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from pathlib import Path

import httpx
import pytest

from infra.local.etcd_cluster import EtcdCluster, plan_members
from infra.local.quorum_recovery import (
    QuorumRecovery,
    disaster_refusal,
    initial_cluster,
    joining_argv,
)
from infra.local.state import PlatformError, PlatformState, ProcessRecord
from infra.local.supervisor import Supervisor

SITES = ["production", "same-city", "remote-dr"]


def test_a_disaster_is_refused_while_another_member_runs() -> None:
    reason = disaster_refusal(SITES, "remote-dr", {"remote-dr", "same-city"}, has_quorum=True)
    assert reason is not None and "same-city" in reason and "still running" in reason


def test_a_disaster_is_refused_while_etcd_has_a_quorum() -> None:
    reason = disaster_refusal(SITES, "remote-dr", {"remote-dr"}, has_quorum=True)
    assert reason == "etcd still has a quorum: there is no disaster to declare"


def test_a_disaster_needs_a_running_known_survivor() -> None:
    assert "unknown site" in (disaster_refusal(SITES, "mars", set(), False) or "")
    assert "not running" in (disaster_refusal(SITES, "remote-dr", set(), False) or "")


def test_a_disaster_is_declared_when_only_the_survivor_runs_without_quorum() -> None:
    assert disaster_refusal(SITES, "remote-dr", {"remote-dr"}, has_quorum=False) is None


def test_a_rejoining_member_joins_the_existing_cluster_by_name_and_peer_url() -> None:
    members = [
        {"name": "remote-dr", "peerURLs": ["http://r:1"]},
        {"name": "same-city", "peerURLs": ["http://s:1"]},
        {"peerURLs": ["http://p:1"], "isLearner": True},
    ]
    cluster = initial_cluster(members, "production", "http://p:1")
    assert cluster == "remote-dr=http://r:1,same-city=http://s:1,production=http://p:1"
    argv = joining_argv(
        ["etcd", "--initial-cluster=a=x", "--initial-cluster-state=new", "--name=p"], cluster
    )
    assert argv == [
        "etcd", f"--initial-cluster={cluster}", "--initial-cluster-state=existing", "--name=p",
    ]  # fmt: skip


class _Proxy:
    """The link-proxy port: only peer-id registration matters here (no proxy runs)."""

    registered: dict[str, str] = {}

    def set_peer_ids(self, ids: Mapping[str, str]) -> None:
        self.registered.update(ids)

    def close(self) -> None:
        return None


def _state(cluster: EtcdCluster, state_dir: Path) -> PlatformState:
    state = PlatformState(
        state_dir=str(state_dir), topology_file="", topology_name="t", sites=SITES,
        router_url="", proxy_control_url="", etcd_client_urls=cluster.client_urls,
        credentials_dir="",
    )  # fmt: skip
    for site, member in cluster.members.items():
        state.processes[member.name] = ProcessRecord(
            name=member.name, argv=cluster.argv(site), env={}, site=site,
            ready_url=f"{member.client_url}/health", kind="etcd",
        )  # fmt: skip
    return state


def _put(url: str, key: str) -> bool:
    body = {"key": base64.b64encode(key.encode()).decode(), "value": "eA=="}
    try:
        answer = httpx.post(f"{url}/v3/kv/put", json=body, timeout=3.0)
    except httpx.HTTPError:
        return False
    return answer.status_code == 200 and "error" not in answer.text


@pytest.mark.integration
def test_the_survivor_regains_a_quorum_and_the_lost_members_rejoin_from_empty_data(
    supervisor: Supervisor,
) -> None:
    cluster = EtcdCluster(supervisor, plan_members(SITES))
    cluster.start(timeout=60)
    state = _state(cluster, supervisor.state_dir)
    recovery = QuorumRecovery(supervisor, _Proxy)  # type: ignore[arg-type]
    survivor = cluster.client_urls["remote-dr"]
    assert _put(survivor, "/before")

    cluster.stop_member("production", grace=0.0)
    with pytest.raises(PlatformError, match="same-city are still running"):
        recovery.declare(state, "remote-dr")
    cluster.stop_member("same-city", grace=0.0)
    assert not _put(survivor, "/no-quorum")

    assert recovery.declare(state, "remote-dr") == ["production", "same-city"]
    assert _put(survivor, "/after-declaring")
    assert PlatformState.load(supervisor.state_dir).etcd_removed == ["production", "same-city"]

    for site in ("production", "same-city"):
        recovery.rejoin(state, site)
    members = httpx.post(f"{survivor}/v3/cluster/member/list", json={}, timeout=5).json()
    assert sorted((m["name"], bool(m.get("isLearner"))) for m in members["members"]) == [
        ("production", False), ("remote-dr", False), ("same-city", False),
    ]  # fmt: skip
    assert state.etcd_removed == []
    etcd_dir = supervisor.state_dir / "etcd"
    assert len(list(etcd_dir.glob("production.removed-*"))) == 1  # old data kept, unused
    production = cluster.client_urls["production"]
    answer = httpx.post(
        f"{production}/v3/kv/range",
        json={"key": base64.b64encode(b"/after-declaring").decode()},
        timeout=5,
    ).json()
    assert answer.get("count") == "1"  # the rejoined member serves the survivor's data
    assert len(_Proxy.registered) == 2
    cluster.stop()
