"""Keep etcd's raft leader in the witness site (remote-dr) on the local platform.

Why: when the member that leads raft dies, the others need an election (~1 s idle, 3 s
seen on a loaded 2-core CI machine) and etcd then renews *every* lease to its full TTL.
If the leader sat in a city-A site, a city-A outage — the fault we rehearse most — paid
for both: primaries elsewhere could fence during the election (their keepalives stall),
and the dead site's primary leases lived on a full TTL after it, delaying promotion.
With the leader in the witness site, a city-A outage costs no election at all.

Cost, in a real deployment: every etcd write then crosses the inter-city link once more
(client → remote leader → a city-A follower). Our writes are few (leases, routes,
observer reports), so we take that for faster failover; ``docs/controller.md`` says so.

Uses etcd's own maintenance API (``status``, ``transfer-leadership`` = etcdctl
``move-leader``) over the JSON gateway; over ``https://`` URLs with this process's
certificate (:func:`failover.tls.client_verify`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from failover.tls import client_verify


class LeaderMoveError(RuntimeError):
    """The leader could not be placed; the message says which member answered what."""


def leader_site(client_urls: Mapping[str, str], timeout: float = 2.0) -> str | None:
    """The site whose member leads raft now, or None if no member answered with one."""
    for url in client_urls.values():
        try:
            status = _post(url, "/v3/maintenance/status", {}, timeout)
            members = _post(url, "/v3/cluster/member/list", {}, timeout)["members"]
        except (httpx.HTTPError, KeyError, ValueError):
            continue
        leader = str(status.get("leader", ""))
        by_id = {str(m["ID"]): str(m.get("name", "")) for m in members}
        site = by_id.get(leader)  # members are named after their site
        if site in client_urls:
            return site
    return None


def move_leader(
    client_urls: Mapping[str, str],
    site: str,
    timeout: float = 15.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Make ``site``'s member the raft leader; return at once if it already is.

    Asks the current leader to transfer leadership, then waits until the members agree.
    Raises :class:`LeaderMoveError` when that has not happened within ``timeout``."""
    deadline = clock() + timeout
    last = "no member answered"
    while clock() < deadline:
        current = leader_site(client_urls)
        if current == site:
            return
        if current is not None:
            last = _ask_transfer(client_urls, current, site)
        sleep(0.2)
    raise LeaderMoveError(
        f"etcd leadership did not move to {site} within {timeout:.0f} s ({last}); "
        "check `watertight status` and the etcd logs under <state>/logs/"
    )


def _ask_transfer(client_urls: Mapping[str, str], leader: str, site: str) -> str:
    url = client_urls[leader]
    try:
        members = _post(url, "/v3/cluster/member/list", {}, 2.0)["members"]
        target = next(m["ID"] for m in members if m.get("name") == site)
        _post(url, "/v3/maintenance/transfer-leadership", {"targetID": target}, 5.0)
    except StopIteration:
        return f"no member named {site}"
    except (httpx.HTTPError, KeyError, ValueError) as exc:
        return f"{leader} refused the transfer: {exc}"
    return f"asked {leader} to hand over"


def _post(url: str, path: str, body: dict[str, Any], timeout: float) -> dict[str, Any]:
    answer = httpx.post(f"{url}{path}", json=body, timeout=timeout, verify=client_verify())
    result: dict[str, Any] = answer.raise_for_status().json()
    return result
