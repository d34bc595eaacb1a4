"""What every other process of the local platform stands on: the link proxy (the WAN)
and the etcd quorum, started new or, for a recorded platform, restarted on its data.

A restart cannot simply start the recorded members again: their cluster remembers the
previous proxy's ingress ports as its peer URLs (infra/local/etcd_restart.py), so the
recorded ones are bridged to the new ingress while the cluster is told its new URLs.
The bridge relays bytes, so TLS crosses it unchanged; but a recorded cluster is restarted
only as it ran, with or without TLS: its data names its peer URLs with their scheme.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from urllib.parse import urlsplit

from failover.topology import Topology
from infra.local.etcd_cluster import EtcdCluster, EtcdMember, behind_proxy
from infra.local.etcd_restart import restart_members, url_port
from infra.local.linkproxy_client import LinkProxyClient, start_link_proxy
from infra.local.peer_bridge import PeerBridge
from infra.local.run_record import PortPlan, recorded_peer_urls
from infra.local.state import EDGE, PlatformError, PlatformState, ProcessRecord
from infra.local.supervisor import Supervisor

Progress = Callable[[str, int, int], None]


def start_foundation(
    supervisor: Supervisor,
    topology: Topology,
    plan: PortPlan,
    previous: PlatformState | None,
    progress: Progress,
    ready_timeout: float,
    etcd_binary: Path,
    tls: Mapping[str, Path] | None = None,
) -> tuple[EtcdCluster, LinkProxyClient]:
    """Start the link proxy, give every link its base delay, then start the etcd members
    on ``plan``'s ports: a new cluster, or ``previous``'s restarted on its data (the
    record saved as its peer URLs move). ``tls``: site → TLS directory, for a cluster
    that speaks only mutual TLS (:class:`EtcdCluster`). Raises what the steps raise
    (:class:`PlatformError` when ``previous`` ran with TLS and ``tls`` is not given, or
    the reverse); the caller stops what was started."""
    sites = list(topology.site_names)
    if previous is not None:
        _check_same_scheme(previous, tls is not None)
    # Bound before the new proxy takes ports from the kernel (infra/local/peer_bridge.py).
    bridge = None if previous is None else _reserve_bridge(previous)
    try:
        progress("starting link proxy", 0, 1)
        proxy = start_link_proxy(supervisor, [*sites, EDGE])
        # Before any etcd member or unit starts, so no connection ever sees a shorter WAN.
        for (a, b), delay_ms in site_link_delays(topology).items():
            proxy.set_base_delay(a, b, delay_ms)
        members = behind_proxy(plan.members(sites), proxy)
        cluster = EtcdCluster(supervisor, members, binary=etcd_binary, tls=tls)
        if previous is None or bridge is None:
            progress("starting etcd quorum", 0, len(sites))
            cluster.start(timeout=ready_timeout)
        else:
            progress("restarting etcd on its data", 0, len(sites))
            _restart_etcd(cluster, bridge, previous, ready_timeout)
    finally:
        if bridge is not None:
            bridge.close()
    return cluster, proxy


def _check_same_scheme(previous: PlatformState, tls: bool) -> None:
    """A member restarted on its data dials the peer URLs its cluster recorded, scheme
    and all: a TLS member cannot talk to a plain one, so the quorum would never form."""
    schemes = {urlsplit(u).scheme for found in recorded_peer_urls(previous).values() for u in found}
    wanted = "https" if tls else "http"
    if schemes and schemes != {wanted}:
        ran, asked = ("with", "without") if "https" in schemes else ("without", "with")
        raise PlatformError(
            f"the platform recorded in {previous.state_dir} ran etcd {ran} TLS; it restarts "
            f"on its data only as it ran, not {asked} TLS: run `watertight up` as it ran, or "
            "start a new platform in another state dir"
        )


def _reserve_bridge(previous: PlatformState) -> PeerBridge:
    urls = recorded_peer_urls(previous)
    try:
        return PeerBridge(sorted({url_port(u) for found in urls.values() for u in found}))
    except OSError as exc:
        raise PlatformError(
            f"cannot restart the platform recorded in {previous.state_dir}: {exc}, an etcd "
            "peer address its cluster remembers; stop whatever holds it and run "
            "`watertight up` again"
        ) from exc


def _restart_etcd(
    cluster: EtcdCluster, bridge: PeerBridge, previous: PlatformState, timeout: float
) -> None:
    """Restart the members, saving in ``previous``'s record at each step every peer URL
    their membership may name, so an interrupted restart can itself be restarted."""
    recorded = recorded_peer_urls(previous)
    state_dir = Path(previous.state_dir)

    def moving(new: dict[str, str]) -> None:
        previous.etcd_peer_urls = {s: sorted({*recorded[s], new[s]}) for s in recorded}
        previous.save(state_dir)

    restart_members(cluster, bridge, recorded, moving, timeout)
    previous.etcd_peer_urls = {s: [m.advertised_peer_url] for s, m in cluster.members.items()}
    for member in cluster.members.values():
        previous.processes[member.name] = etcd_record(cluster, member)
    previous.save(state_dir)


def site_link_delays(topology: Topology) -> dict[tuple[str, str], float]:
    """One-way base delay (ms) of every link between two sites: ``topology.link_delay_ms``.

    Links to the ``edge`` get none: the router and clients stand at the city-A edge, next
    to its data centers (the extra cost of reaching remote-dr from there is not modelled).
    """
    names = topology.site_names
    return {
        (a, b): topology.link_delay_ms(a, b) for i, a in enumerate(names) for b in names[i + 1 :]
    }


def etcd_record(cluster: EtcdCluster, member: EtcdMember) -> ProcessRecord:
    """The record of one member as started (its argv holds its current peer URL)."""
    return ProcessRecord(
        name=member.name,
        argv=cluster.argv(member.site),
        env={},
        site=member.site,
        ready_url=f"{member.client_url}/health",
        kind="etcd",
    )
