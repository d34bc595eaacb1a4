"""Declaring a disaster: rebuilding the etcd quorum on the one surviving site, and taking
the lost sites' members back in when they return (docs/design.md §3, docs/controller.md §12).

With one etcd member per site, losing both city-A sites leaves remote-dr's member alone,
one of three: no quorum, so no controller can record an approval or move a route. That
refusal is the safety net — until a person decides the lost sites are gone for good and
fenced. ``declare_disaster`` is that decision, made executable:

1. It refuses unless the quorum really is lost (a linearizable read through the survivor
   fails) and every other member is stopped (on the local platform, the lost sites'
   processes are dead: the fencing a real bank does by isolating the data center).
2. It restarts the survivor's member with ``--force-new-cluster``: the same data, now a
   one-member cluster that has a quorum again. The controllers in the surviving site
   take over from there: approvals, then data-losing promotions with the loss recorded.
3. It records the lost sites in ``platform.json`` (``etcd_removed``).

The lost members' old data must never be started again: two of them together are a
majority of the *old* three-member cluster and would serve the pre-disaster routes — two
writable copies of every unit. So ``site-up`` of a removed site calls
``rejoin_member``: it sets the old data dir aside (renamed, kept for forensics), adds the
member as a *learner* (which does not count towards the quorum, so the survivor never
waits on a member still catching up), starts it empty, and promotes it to a voting
member once it has caught up.

A TLS cluster needs nothing more: each member's recorded command line holds its
certificate flags and ``https://`` URLs, and every call here presents this process's
certificate (:func:`failover.tls.client_verify`).
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx

from failover.tls import client_verify
from infra.local.linkproxy_client import LinkProxyClient
from infra.local.readiness import quiet, wait_ready
from infra.local.state import PlatformError, PlatformState, ProcessRecord
from infra.local.supervisor import ProcessSpec, Supervisor

FORCE_NEW_CLUSTER = "--force-new-cluster"
QUORUM_PROBE_TIMEOUT_SECONDS = 3.0
MEMBER_READY_TIMEOUT_SECONDS = 60.0
PROMOTE_TIMEOUT_SECONDS = 60.0


def disaster_refusal(
    sites: Sequence[str], survivor: str, running_members: set[str], has_quorum: bool
) -> str | None:
    """Why a disaster may not be declared with ``survivor`` as the one site left (None if
    it may). ``running_members``: the sites whose etcd member process is running."""
    if survivor not in sites:
        return f"unknown site {survivor!r}; known sites: {', '.join(sites)}"
    if survivor not in running_members:
        return (
            f"the etcd member of {survivor} is not running: the survivor must hold the "
            "data the rebuilt quorum starts from"
        )
    others_running = sorted(running_members - {survivor})
    if others_running:
        return (
            f"the etcd members of {', '.join(others_running)} are still running; a disaster "
            "is declared only over sites that are down (fenced): stop them first "
            f"(`watertight fault site-down SITE`) or bring the lost sites back instead"
        )
    if has_quorum:
        return "etcd still has a quorum: there is no disaster to declare"
    return None


def flag_value(argv: Sequence[str], flag: str) -> str:
    """The value of ``--flag=value`` in an etcd command line."""
    prefix = f"{flag}="
    for arg in argv:
        if arg.startswith(prefix):
            return arg[len(prefix) :]
    raise PlatformError(f"etcd command line has no {flag}: {' '.join(argv)}")


def joining_argv(argv: Sequence[str], initial_cluster: str) -> list[str]:
    """An etcd command line turned from bootstrapping a new cluster into joining an
    existing one with the given ``--initial-cluster``."""
    replaced = {
        "--initial-cluster": initial_cluster,
        "--initial-cluster-state": "existing",
    }
    out = []
    for arg in argv:
        name = arg.split("=", 1)[0]
        out.append(f"{name}={replaced[name]}" if name in replaced else arg)
    return out


def initial_cluster(members: Sequence[dict[str, Any]], site: str, peer_url: str) -> str:
    """``--initial-cluster`` for a member just added: every started member by name, and
    the new one (which has no name until it starts) as ``site``."""
    parts = []
    for member in members:
        urls = member.get("peerURLs") or []
        if peer_url in urls:
            parts.append(f"{site}={peer_url}")
        elif member.get("name"):
            parts.append(f"{member['name']}={urls[0]}")
    return ",".join(parts)


class QuorumRecovery:
    """Declares disasters and takes removed members back, on one local platform."""

    def __init__(
        self,
        supervisor: Supervisor,
        proxy: Callable[[], LinkProxyClient],
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.supervisor = supervisor
        self._proxy = proxy
        self._clock = clock
        self._sleep = sleep

    # -- declaring --------------------------------------------------------------------

    def declare(self, state: PlatformState, survivor: str) -> list[str]:
        """Rebuild the quorum on ``survivor`` (module docstring); returns the sites whose
        members were removed. Saves ``state``. Raises :class:`PlatformError`."""
        alive = self.supervisor.pids()
        running = {s for s in state.sites if f"etcd-{s}" in alive}
        quorate = survivor in running and has_quorum(state.etcd_client_urls[survivor])
        refusal = disaster_refusal(state.sites, survivor, running, quorate)
        if refusal:
            raise PlatformError(f"cannot declare a disaster: {refusal}")
        record = state.processes[f"etcd-{survivor}"]
        self.supervisor.stop(record.name, grace=5.0)
        forced = ProcessSpec(
            record.name, [*record.argv, FORCE_NEW_CLUSTER], record.env, record.site,
            record.ready_url,
        )  # fmt: skip
        self.supervisor.start(forced)
        wait_ready(self.supervisor, [record], MEMBER_READY_TIMEOUT_SECONDS, quiet)
        lost = sorted(set(state.sites) - {survivor})
        state.etcd_removed = sorted(set(state.etcd_removed) | set(lost))
        state.save(Path(state.state_dir))
        return lost

    # -- rejoining --------------------------------------------------------------------

    def rejoin(self, state: PlatformState, site: str) -> ProcessRecord:
        """Start a removed site's member afresh as a learner, promote it once caught up;
        returns the member's new record (saved in ``state``)."""
        record = state.processes[f"etcd-{site}"]
        peer_url = flag_value(record.argv, "--initial-advertise-peer-urls")
        via = self._voting_member_url(state)
        self._remove_stale(via, peer_url)
        _set_aside(Path(flag_value(record.argv, "--data-dir")))
        added = self._add_learner(via, peer_url)
        member_id = int(added["member"]["ID"])
        with closing(self._proxy()) as proxy:
            proxy.set_peer_ids({f"{member_id:x}": site})
        cluster = initial_cluster(added.get("members", []), site, peer_url)
        joined = replace(record, argv=joining_argv(record.argv, cluster))
        self.supervisor.start(joined.spec())
        # A learner serves no linearizable reads, so /health waits for the promotion.
        self._promote(via, member_id, joined)
        wait_ready(self.supervisor, [joined], MEMBER_READY_TIMEOUT_SECONDS, quiet)
        state.processes[joined.name] = joined
        state.etcd_removed = [s for s in state.etcd_removed if s != site]
        state.save(Path(state.state_dir))
        return joined

    def _voting_member_url(self, state: PlatformState) -> str:
        alive = self.supervisor.pids()
        for site in state.sites:
            if site not in state.etcd_removed and f"etcd-{site}" in alive:
                return state.etcd_client_urls[site]
        raise PlatformError(
            "no voting etcd member is running to take the member back; bring up the site "
            "the disaster was declared on first"
        )

    def _remove_stale(self, via: str, peer_url: str) -> None:
        """A rejoin that died half-way leaves a member entry with our peer URL: drop it."""
        for member in etcd_post(via, "/v3/cluster/member/list", {}).get("members", []):
            if peer_url in (member.get("peerURLs") or []):
                etcd_post(via, "/v3/cluster/member/remove", {"ID": member["ID"]})

    def _add_learner(self, via: str, peer_url: str) -> dict[str, Any]:
        """etcd refuses reconfiguration ("unhealthy cluster") until every voting member
        has been connected for 5 s — e.g. just after the survivor restarted or another
        member was promoted."""
        body = {"peerURLs": [peer_url], "isLearner": True}
        return self._post_until_accepted(via, "/v3/cluster/member/add", body)

    def _promote(self, via: str, member_id: int, record: ProcessRecord) -> None:
        """etcd refuses to promote a learner that has not caught up yet."""

        def still_running() -> None:
            if not self.supervisor.alive(record.name):
                raise PlatformError(
                    f"{record.name} exited while rejoining; see "
                    f"{self.supervisor.log_path(record.name)}"
                )

        body = {"ID": str(member_id)}
        self._post_until_accepted(via, "/v3/cluster/member/promote", body, still_running)

    def _post_until_accepted(
        self,
        via: str,
        path: str,
        body: dict[str, Any],
        before_each: Callable[[], None] = lambda: None,
    ) -> dict[str, Any]:
        return post_until_accepted(via, path, body, self._clock, self._sleep, before_each)


def has_quorum(client_url: str) -> bool:
    """Whether the etcd member at ``client_url`` answers a linearizable read, which it
    does only when a majority of members agree."""
    body = {"key": base64.b64encode(b"/watertight/").decode()}
    try:
        answer = httpx.post(
            f"{client_url}/v3/kv/range",
            json=body,
            timeout=QUORUM_PROBE_TIMEOUT_SECONDS,
            verify=client_verify(),
        )
    except httpx.HTTPError:
        return False
    return answer.status_code == 200 and "error" not in answer.text


def etcd_post(url: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """One etcd v3 JSON call; its answer, or :class:`PlatformError` saying why not."""
    try:
        answer = httpx.post(f"{url}{path}", json=body, timeout=10.0, verify=client_verify())
        data: dict[str, Any] = answer.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise PlatformError(f"etcd {path} at {url} failed: {exc}") from exc
    if answer.status_code != 200 or "error" in data:
        raise PlatformError(f"etcd {path} at {url} refused: {data.get('error', data)}")
    return data


def post_until_accepted(
    via: str,
    path: str,
    body: dict[str, Any],
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    before_each: Callable[[], None] = lambda: None,
) -> dict[str, Any]:
    """:func:`etcd_post` every 0.5 s until etcd accepts it; past
    :data:`PROMOTE_TIMEOUT_SECONDS` the last refusal is raised. ``before_each`` may raise
    to give up early. etcd refuses reconfiguration ("unhealthy cluster") until every
    voting member has been connected for 5 s, and refuses to promote a learner that has
    not caught up yet."""
    deadline = clock() + PROMOTE_TIMEOUT_SECONDS
    while True:
        before_each()
        try:
            return etcd_post(via, path, body)
        except PlatformError as exc:
            if clock() > deadline:
                raise PlatformError(
                    f"{exc} (still refused after {PROMOTE_TIMEOUT_SECONDS:g} s)"
                ) from exc
        sleep(0.5)


def _set_aside(data_dir: Path) -> None:
    """Rename the removed member's old data dir (kept for forensics, never started)."""
    if data_dir.exists():
        data_dir.rename(data_dir.with_name(f"{data_dir.name}.removed-{int(time.time())}"))
    data_dir.mkdir(parents=True, exist_ok=True)
