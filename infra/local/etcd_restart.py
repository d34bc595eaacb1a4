"""Restarting the etcd members of a recorded platform on their data, with new peer URLs.

Each member of the local platform advertises the link proxy's ingress for it as its peer
URL (infra/local/etcd_cluster.py, ``behind_proxy``), and etcd keeps the advertised URLs
in its data: a restarted member dials its peers at the URLs the cluster last agreed on,
whatever its command line says. A new run has a new proxy whose ingress ports are new,
so a plain restart finds no peer and never regains a quorum. :func:`restart_members`:

1. relays every peer URL the recorded cluster may name to the member's new ingress (a
   :class:`PeerBridge` the caller bound before the new proxy started);
2. starts every member on its data and waits until each is healthy: the old cluster,
   quorum and all, every committed key kept;
3. records that the peer URLs are moving (``moving``: the caller saves both old and new
   URLs, so a restart interrupted from here on still bridges whichever the cluster holds),
   then tells the cluster each member's new peer URL (``member update``, a raft
   configuration change);
4. waits until every member knows every new URL, closes the bridge, and waits until
   each member is healthy again, now over the new ingress alone.

A TLS cluster restarts the same way (the bridge relays bytes; the URLs keep their
``https://``); its maintenance calls present this process's certificate
(:func:`failover.tls.client_verify`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx

from failover.tls import client_verify
from infra.local.etcd_cluster import EtcdCluster, EtcdClusterError
from infra.local.peer_bridge import PeerBridge

UPDATE_TIMEOUT_SECONDS = 30.0
POLL_SECONDS = 0.3


def url_port(url: str) -> int:
    """The port of an ``http(s)://host:port`` URL (``EtcdClusterError`` if it has none)."""
    port = urlsplit(url).port
    if port is None:
        raise EtcdClusterError(f"recorded etcd peer URL without a port: {url}")
    return port


def bridge_targets(
    recorded: Mapping[str, Sequence[str]], cluster: EtcdCluster
) -> dict[int, tuple[str, int]]:
    """Port of each recorded peer URL → (host, port) of that site's new peer URL."""
    targets: dict[int, tuple[str, int]] = {}
    for site, urls in recorded.items():
        new = urlsplit(cluster.members[site].advertised_peer_url)
        for url in urls:
            targets[url_port(url)] = (new.hostname or "127.0.0.1", new.port or 0)
    return targets


def restart_members(
    cluster: EtcdCluster,
    bridge: PeerBridge,
    recorded: Mapping[str, Sequence[str]],
    moving: Callable[[dict[str, str]], None],
    timeout: float,
) -> None:
    """Steps 1–4 of the module docstring; closes ``bridge``. On failure every member is
    stopped and :class:`EtcdClusterError` says which step failed."""
    new_urls = {site: m.advertised_peer_url for site, m in cluster.members.items()}
    try:
        with bridge:
            bridge.start(bridge_targets(recorded, cluster))
            cluster.start(timeout=timeout)
            moving(new_urls)
            _update_peer_urls(cluster, new_urls)
            _wait_known(cluster, new_urls)
        cluster.wait_healthy(list(cluster.members), timeout)
    except BaseException:
        cluster.stop()
        raise


def _update_peer_urls(cluster: EtcdCluster, new_urls: Mapping[str, str]) -> None:
    """``member update`` for each member whose peer URLs differ from its new one. etcd may
    refuse a configuration change for a few seconds after a restart, so refusals are
    retried until :data:`UPDATE_TIMEOUT_SECONDS`."""
    deadline = time.monotonic() + UPDATE_TIMEOUT_SECONDS
    while True:
        try:
            for member in _members(cluster):
                url = new_urls.get(str(member.get("name")))
                if url is not None and member.get("peerURLs") != [url]:
                    body = {"ID": member["ID"], "peerURLs": [url]}
                    _post(cluster, "/v3/cluster/member/update", body)
            return
        except EtcdClusterError as exc:
            if time.monotonic() > deadline:
                raise EtcdClusterError(
                    f"the restarted etcd cluster refused its members' new peer URLs for "
                    f"{UPDATE_TIMEOUT_SECONDS:g} s: {exc}"
                ) from exc
        time.sleep(POLL_SECONDS)


def _wait_known(cluster: EtcdCluster, new_urls: Mapping[str, str]) -> None:
    """Until each member's own view of the membership holds every new peer URL: a member
    that still dialled an old one when the bridge closed would lose its peers."""
    deadline = time.monotonic() + UPDATE_TIMEOUT_SECONDS
    pending = set(cluster.members)
    while pending:
        for site in sorted(pending):
            if _knows(cluster.members[site].client_url, new_urls):
                pending.discard(site)
        if pending and time.monotonic() > deadline:
            raise EtcdClusterError(
                f"etcd members {', '.join(sorted(pending))} did not learn the new peer URLs "
                f"within {UPDATE_TIMEOUT_SECONDS:g} s"
            )
        if pending:
            time.sleep(POLL_SECONDS)


def _knows(client_url: str, new_urls: Mapping[str, str]) -> bool:
    try:
        answer = httpx.post(
            f"{client_url}/v3/cluster/member/list", json={}, timeout=2.0, verify=client_verify()
        )
        members = answer.raise_for_status().json()["members"]
    except (httpx.HTTPError, KeyError, ValueError):
        return False
    seen = {str(m.get("name")): m.get("peerURLs") for m in members}
    return all(seen.get(site) == [url] for site, url in new_urls.items())


def _members(cluster: EtcdCluster) -> list[dict[str, Any]]:
    members: list[dict[str, Any]] = _post(cluster, "/v3/cluster/member/list", {})["members"]
    return members


def _post(cluster: EtcdCluster, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST to the first member that answers; ``EtcdClusterError`` with every refusal."""
    errors = []
    verify = client_verify()
    for url in cluster.client_urls.values():
        try:
            answer = httpx.post(f"{url}{path}", json=body, timeout=5.0, verify=verify)
            data: dict[str, Any] = answer.json()
        except (httpx.HTTPError, ValueError) as exc:
            errors.append(f"{url}: {exc}")
            continue
        if answer.status_code == 200 and "error" not in data:
            return data
        errors.append(f"{url}: {data.get('error', data)}")
    raise EtcdClusterError(f"etcd {path} failed: {'; '.join(errors)}")
