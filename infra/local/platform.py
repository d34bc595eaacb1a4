"""The local platform: all three sites as real processes on loopback (docs/design.md §6).

``up`` starts, in order: the link proxy (the simulated WAN, with an extra ``edge`` site for
the router; each site pair's link is given its standing one-way delay from the topology,
:func:`site_link_delays`, before anything else starts), one etcd member per site with
peer traffic through the proxy, the routes (seeded by an injected hook: infra never
imports the DCS adapter), every unit instance (each with its own SQLite file; peers and
etcd reached through the proxy), and the router at the edge, and one controller and one
observer per site. It returns once everything answers its readiness URL; on any failure
it stops all it started. ``down`` stops everything, pid files or not.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

from failover.topology import Topology, load_topology
from infra.local.etcd_cluster import (
    EtcdCluster,
    EtcdClusterError,
    EtcdMember,
    behind_proxy,
    client_endpoints,
    find_etcd_binary,
    plan_members,
    register_peer_ids,
)
from infra.local.etcd_leader import LeaderMoveError, move_leader
from infra.local.linkproxy_client import (
    LinkProxyClient,
    LinkProxyError,
    ensure_token_file,
    start_link_proxy,
)
from infra.local.ports import LOOPBACK, free_ports, port_is_free
from infra.local.readiness import wait_ready, wait_replicating
from infra.local.state import EDGE, PlatformError, PlatformState, ProcessRecord
from infra.local.supervisor import Supervisor, SupervisorError

Progress = Callable[[str, int, int], None]
"""``progress(phase, done, total)`` — called while waiting, for a live display."""
SeedRoutes = Callable[[Topology, list[str]], None]
"""Writes the initial routes into etcd, given the topology and etcd client URLs."""


def _no_progress(phase: str, done: int, total: int) -> None:
    return None


class LocalPlatform:
    """Processes of one platform instance, rooted at ``state_dir``."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir.resolve()
        self.supervisor = Supervisor(self.state_dir)

    # -- up ---------------------------------------------------------------------------

    def up(
        self,
        topology_file: Path,
        seed_routes: SeedRoutes,
        router_port: int = 0,
        progress: Progress = _no_progress,
        ready_timeout: float = 90.0,
    ) -> PlatformState:
        """Start everything (module docstring). Raises :class:`PlatformError`."""
        topology = load_topology(topology_file)
        try:
            etcd_binary = find_etcd_binary()
        except EtcdClusterError as exc:
            raise PlatformError(str(exc)) from exc
        self._refuse_if_running()
        if router_port and not port_is_free(router_port):
            raise PlatformError(f"router port {router_port} is already in use; pick another")
        self.supervisor.stop_all(grace=2.0)  # leftovers of a crashed `up`
        self.state_dir.mkdir(parents=True, exist_ok=True)
        token_file = self.state_dir / "admin.token"
        ensure_token_file(token_file)
        try:
            return self._start_all(
                topology, topology_file.resolve(), token_file, seed_routes, router_port,
                progress, ready_timeout, etcd_binary,
            )  # fmt: skip
        except BaseException as exc:
            self.supervisor.stop_all(grace=2.0)
            (self.state_dir / "platform.json").unlink(missing_ok=True)
            if isinstance(
                exc, EtcdClusterError | LeaderMoveError | LinkProxyError | SupervisorError
            ):
                raise PlatformError(str(exc)) from exc
            raise

    def _refuse_if_running(self) -> None:
        running = self.supervisor.pids()
        if running:
            raise PlatformError(
                f"a platform is already running from {self.state_dir} ({len(running)} "
                "processes); use `watertight status`, or `watertight down` first"
            )

    def _start_all(
        self,
        topology: Topology,
        topology_file: Path,
        token_file: Path,
        seed_routes: SeedRoutes,
        router_port: int,
        progress: Progress,
        ready_timeout: float,
        etcd_binary: Path,
    ) -> PlatformState:
        sites = list(topology.site_names)
        progress("starting link proxy", 0, 1)
        proxy = start_link_proxy(self.supervisor, [*sites, EDGE])
        # Before any etcd member or unit starts, so no connection ever sees a shorter WAN.
        for (a, b), delay_ms in site_link_delays(topology).items():
            proxy.set_base_delay(a, b, delay_ms)
        progress("starting etcd quorum", 0, len(sites))
        members = behind_proxy(plan_members(sites), proxy)
        cluster = EtcdCluster(self.supervisor, members, binary=etcd_binary)
        cluster.start(timeout=ready_timeout)
        register_peer_ids(cluster, proxy)
        progress(f"placing the etcd leader in {topology.dr_site}", 0, 1)
        move_leader(cluster.client_urls, topology.dr_site)
        seed_routes(topology, client_endpoints(cluster, proxy, EDGE))
        state = PlatformState(
            state_dir=str(self.state_dir),
            topology_file=str(topology_file),
            topology_name=topology.name,
            sites=sites,
            router_url="",
            proxy_control_url=proxy.control_url,
            etcd_client_urls=cluster.client_urls,
            token_file=str(token_file),
        )
        for member in cluster.members.values():
            state.processes[member.name] = _etcd_record(cluster, member)
        # One batch of ports for units, controllers and the router: a port picked while a
        # unit has not bound its own yet could otherwise be picked twice (CI once gave
        # the router u02's port; the router died and u02 answered the router's /readyz).
        ports = free_ports(
            len(topology.units) * len(sites) + len(sites) + 1, avoid=frozenset({router_port})
        )
        controller_ports, unit_ports = ports[: len(sites)], ports[len(sites) : -1]
        self._start_units(state, topology, cluster, proxy, unit_ports)
        self._start_router(state, topology, cluster, proxy, router_port or ports[-1])
        self._start_controllers(state, cluster, proxy, controller_ports, topology.dr_site)
        state.save(self.state_dir)
        wait_ready(self.supervisor, list(state.processes.values()), ready_timeout, progress)
        wait_replicating(list(state.processes.values()), ready_timeout, progress)
        return state

    def _start_units(
        self,
        state: PlatformState,
        topology: Topology,
        cluster: EtcdCluster,
        proxy: LinkProxyClient,
        free: list[int],
    ) -> None:
        units = topology.units
        ports = iter(free)
        port_of = {(u, s): next(ports) for u in units for s in state.sites}
        for unit in units:
            placement = topology.placement(unit)
            for site in state.sites:
                peers = {}
                for other in state.sites:
                    if other != site:
                        host, port = proxy.listener_for(site, other, LOOPBACK, port_of[unit, other])
                        peers[other] = f"http://{host}:{port}"
                role = "primary" if placement.primary == site else "standby"
                record = self._unit_record(
                    state, unit, site, port_of[unit, site], role, peers,
                    client_endpoints(cluster, proxy, site),
                )  # fmt: skip
                state.processes[record.name] = record
                self.supervisor.start(record.spec())

    def _unit_record(
        self,
        state: PlatformState,
        unit: str,
        site: str,
        port: int,
        role: str,
        peers: dict[str, str],
        etcd: list[str],
    ) -> ProcessRecord:
        data_dir = self.state_dir / "data" / site
        data_dir.mkdir(parents=True, exist_ok=True)
        env = {
            "WATERTIGHT_UNIT": unit,
            "WATERTIGHT_SITE": site,
            "WATERTIGHT_HOST": LOOPBACK,
            "WATERTIGHT_PORT": str(port),
            "WATERTIGHT_DATA_DIR": str(data_dir),
            "WATERTIGHT_TOPOLOGY": state.topology_file,
            "WATERTIGHT_TOKEN_FILE": state.token_file,
            "WATERTIGHT_ROLE": role,
            "WATERTIGHT_EPOCH": "1",
            "WATERTIGHT_PEERS": json.dumps(peers, sort_keys=True),
            "WATERTIGHT_ETCD_ENDPOINTS": json.dumps(etcd),
        }
        return ProcessRecord(
            name=f"unit-{unit}-{site}",
            argv=[sys.executable, "-m", "app"],
            env=env,
            site=site,
            ready_url=f"http://{LOOPBACK}:{port}/readyz",
            kind="unit",
            unit=unit,
        )

    def _start_router(
        self,
        state: PlatformState,
        topology: Topology,
        cluster: EtcdCluster,
        proxy: LinkProxyClient,
        router_port: int,
    ) -> None:
        table: dict[str, dict[str, str]] = {}
        for record in state.processes.values():
            if record.kind == "unit" and record.unit and record.site:
                port = int(record.env["WATERTIGHT_PORT"])
                host, via = proxy.listener_for(EDGE, record.site, LOOPBACK, port)
                table.setdefault(record.unit, {})[record.site] = f"http://{host}:{via}"
        address_map = self.state_dir / "router-addresses.json"
        address_map.write_text(json.dumps({"units": table}, indent=2, sort_keys=True))
        port = router_port
        env = {
            "WATERTIGHT_HOST": LOOPBACK,
            "WATERTIGHT_PORT": str(port),
            "WATERTIGHT_TOPOLOGY": state.topology_file,
            "WATERTIGHT_ADDRESS_MAP": str(address_map),
            "WATERTIGHT_ETCD_ENDPOINTS": json.dumps(client_endpoints(cluster, proxy, EDGE)),
        }
        state.router_url = f"http://{LOOPBACK}:{port}"
        record = ProcessRecord(
            name="router",
            argv=[sys.executable, "-m", "failover.router"],
            env=env,
            site=None,
            ready_url=f"{state.router_url}/readyz",
            kind="router",
        )
        state.processes[record.name] = record
        self.supervisor.start(record.spec())

    def _start_controllers(
        self,
        state: PlatformState,
        cluster: EtcdCluster,
        proxy: LinkProxyClient,
        free: list[int],
        witness: str,
    ) -> None:
        """One controller and one observer per site, seeing the world as that site does:
        every unit instance and the other etcd members through the (site → other) proxy
        listeners, its own site directly. The witness site's controller starts first, so
        it is the one that finds the leader lease free (``failover.controller.leadership``)."""
        ports = dict(zip(state.sites, free, strict=True))
        urls = {site: f"http://{LOOPBACK}:{port}" for site, port in ports.items()}
        directory = self.state_dir / "controller"
        directory.mkdir(parents=True, exist_ok=True)
        for site in sorted(state.sites, key=lambda name: name != witness):
            address_file = directory / f"addresses-{site}.json"
            address_file.write_text(
                json.dumps(self._site_addresses(state, cluster, proxy, site, urls), indent=2)
            )
            env = {
                "WATERTIGHT_SITE": site,
                "WATERTIGHT_HOST": LOOPBACK,
                "WATERTIGHT_PORT": str(ports[site]),
                "WATERTIGHT_TOPOLOGY": state.topology_file,
                "WATERTIGHT_TOKEN_FILE": state.token_file,
                "WATERTIGHT_ADDRESSES": str(address_file),
                "WATERTIGHT_STATE_DIR": str(directory),
                "WATERTIGHT_ETCD_ENDPOINTS": json.dumps(client_endpoints(cluster, proxy, site)),
            }
            record = ProcessRecord(
                name=f"controller-{site}",
                argv=[sys.executable, "-m", "failover.controller"],
                env=env,
                site=site,
                ready_url=f"{urls[site]}/healthz",
                kind="controller",
            )
            state.processes[record.name] = record
            self.supervisor.start(record.spec())
            self._start_observer(state, site, env)
        state.controller_urls = [urls[site] for site in state.sites]

    def _start_observer(self, state: PlatformState, site: str, env: dict[str, str]) -> None:
        """The site's observer: its own process, so killing a controller keeps its vote."""
        keep = ("WATERTIGHT_SITE", "WATERTIGHT_TOPOLOGY", "WATERTIGHT_ADDRESSES")
        observer_env = {k: v for k, v in env.items() if k in keep}
        observer_env["WATERTIGHT_ETCD_ENDPOINTS"] = env["WATERTIGHT_ETCD_ENDPOINTS"]
        record = ProcessRecord(
            name=f"observer-{site}",
            argv=[sys.executable, "-m", "failover.observer"],
            env=observer_env,
            site=site,
            ready_url=None,
            kind="observer",
        )
        state.processes[record.name] = record
        self.supervisor.start(record.spec())

    def _site_addresses(
        self,
        state: PlatformState,
        cluster: EtcdCluster,
        proxy: LinkProxyClient,
        site: str,
        controllers: dict[str, str],
    ) -> dict[str, object]:
        units: dict[str, dict[str, str]] = {}
        for record in state.processes.values():
            if record.kind == "unit" and record.unit and record.site:
                port = int(record.env["WATERTIGHT_PORT"])
                host, via = proxy.listener_for(site, record.site, LOOPBACK, port)
                units.setdefault(record.unit, {})[record.site] = f"http://{host}:{via}"
        etcd = {}
        for other, member in cluster.members.items():
            host, via = proxy.listener_for(site, other, member.host, member.client_port)
            etcd[other] = f"http://{host}:{via}"
        return {"units": units, "etcd": etcd, "controllers": controllers}

    # -- down / info ------------------------------------------------------------------

    def down(self) -> list[int]:
        """Stop every process of this platform (idempotent); returns the pids stopped.

        Raises :class:`PlatformError` when there was nothing to stop at all.
        """
        stopped = self.supervisor.stop_all()
        had_state = (self.state_dir / "platform.json").exists()
        (self.state_dir / "platform.json").unlink(missing_ok=True)
        if not stopped and not had_state:
            raise PlatformError(f"nothing is running from {self.state_dir}")
        return stopped

    def state(self) -> PlatformState:
        return PlatformState.load(self.state_dir)

    def proxy(self) -> LinkProxyClient:
        state = self.state()
        token = Path(self.state_dir / "linkproxy.token").read_text().strip()
        return LinkProxyClient(state.proxy_control_url, token)


def site_link_delays(topology: Topology) -> dict[tuple[str, str], float]:
    """One-way base delay (ms) of every link between two sites: ``topology.link_delay_ms``.

    Links to the ``edge`` get none: the router and clients stand at the city-A edge, next
    to its data centers (the extra cost of reaching remote-dr from there is not modelled).
    """
    names = topology.site_names
    return {
        (a, b): topology.link_delay_ms(a, b) for i, a in enumerate(names) for b in names[i + 1 :]
    }


def _etcd_record(cluster: EtcdCluster, member: EtcdMember) -> ProcessRecord:
    return ProcessRecord(
        name=member.name,
        argv=cluster.argv(member.site),
        env={},
        site=member.site,
        ready_url=f"{member.client_url}/health",
        kind="etcd",
    )
