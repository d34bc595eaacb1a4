"""The local platform: all three sites as real processes on loopback (docs/design.md §6).

``up`` starts, in order: the link proxy (the simulated WAN, with an extra ``edge`` site for
the router; each site pair's link is given its standing one-way delay from the topology,
:func:`site_link_delays`, before anything else starts), one etcd member per site with
peer traffic through the proxy, the routes (seeded by an injected hook: infra never
imports the DCS adapter), every unit instance (each with its own SQLite file; peers and
etcd reached through the proxy), and the router at the edge, and one controller and one
observer per site. It returns once everything answers its readiness URL; on any failure
it stops all it started. ``down`` stops everything, pid files or not, and keeps the
platform's record and data: the next ``up`` in the same state directory restarts that
platform on its data and ports (infra/local/run_record.py says when and how).
"""

from __future__ import annotations

import json
import secrets
import sys
from collections.abc import Callable
from pathlib import Path

from failover.credentials import write_directory
from failover.tls import ENV as TLS_ENV
from failover.tls import scheme
from failover.topology import Topology, load_topology
from infra.local.certificates import (
    EDGE_IDENTITY,
    OPERATOR_IDENTITY,
    TLS_DIR,
    act_as_operator,
    issue_local_pki,
    tls_env,
)
from infra.local.etcd_cluster import (
    EtcdCluster,
    EtcdClusterError,
    client_endpoints,
    find_etcd_binary,
    register_peer_ids,
)
from infra.local.etcd_leader import LeaderMoveError, move_leader
from infra.local.foundation import etcd_record, site_link_delays, start_foundation
from infra.local.linkproxy_client import LinkProxyClient, LinkProxyError
from infra.local.ports import LOOPBACK, port_is_free
from infra.local.readiness import wait_ready, wait_replicating
from infra.local.run_record import (
    PortPlan,
    discard_first_start,
    fresh_plan,
    mark_stopped,
    previous_run,
    recorded_plan,
    restart_notice,
)
from infra.local.state import (
    APPROVERS,
    CREDENTIALS_DIR,
    EDGE,
    PlatformError,
    PlatformState,
    ProcessRecord,
)
from infra.local.supervisor import Supervisor, SupervisorError

Progress = Callable[[str, int, int], None]
"""``progress(phase, done, total)`` — called while waiting, for a live display."""
SeedRoutes = Callable[[Topology, list[str]], None]
"""Writes the initial routes into etcd, given the topology and etcd client URLs."""
Notify = Callable[[str], None]
"""Told, in one sentence, what ``up`` is about to do when it is not a first start."""


def _no_progress(phase: str, done: int, total: int) -> None:
    return None


def _silent(sentence: str) -> None:
    return None


_FAILURES = (PlatformError, EtcdClusterError, LeaderMoveError, LinkProxyError, SupervisorError)
"""What a failed ``up`` reports as a :class:`PlatformError` (anything else propagates)."""

PRELOADED = ("app", "failover.controller", "failover.observer", "failover.router")
"""Our Python programs, forked from the launcher with their imports done: ``up`` starts
31 of them at once on two cores (infra/local/launcher_main.py)."""

__all__ = ["PRELOADED", "LocalPlatform", "Notify", "Progress", "SeedRoutes", "site_link_delays"]


class LocalPlatform:
    """Processes of one platform instance, rooted at ``state_dir``."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir.resolve()
        self.supervisor = Supervisor(self.state_dir, preload=PRELOADED)
        self._tls_dir = ""

    # -- up ---------------------------------------------------------------------------

    def up(
        self,
        topology_file: Path,
        seed_routes: SeedRoutes,
        router_port: int = 0,
        progress: Progress = _no_progress,
        ready_timeout: float = 90.0,
        notify: Notify = _silent,
        tls: bool = False,
    ) -> PlatformState:
        """Start the platform recorded in the state dir again (``notify`` is told so), or
        a first one (module docstring); ``tls`` gives a first one its own CA and mutual
        TLS between sites (a restart keeps what the first start chose). Raises
        :class:`PlatformError`; a failed restart keeps the record and all data, a failed
        first start leaves no data behind."""
        topology = load_topology(topology_file)
        try:
            etcd_binary = find_etcd_binary()
        except EtcdClusterError as exc:
            raise PlatformError(str(exc)) from exc
        self._refuse_if_running()
        self.supervisor.stop_all(grace=2.0)  # leftovers of a crashed `up`, before port checks
        previous = previous_run(self.state_dir)
        plan = self._plan(topology, topology_file, previous, router_port)
        if previous is not None:
            notify(restart_notice(previous, f"http://{LOOPBACK}:{plan.router}"))
        self.state_dir.mkdir(parents=True, exist_ok=True)
        credentials = self.state_dir / CREDENTIALS_DIR
        write_directory(credentials, APPROVERS, lambda: secrets.token_urlsafe(32))
        self._tls_dir = self._pki(topology, previous, tls)
        try:
            return self._start_all(
                topology, topology_file.resolve(), credentials, seed_routes, plan, previous,
                progress, ready_timeout, etcd_binary,
            )  # fmt: skip
        except BaseException as exc:
            self.supervisor.stop_all(grace=2.0)
            if previous is None:
                discard_first_start(self.state_dir)
            else:
                mark_stopped(self.state_dir)
            if isinstance(exc, _FAILURES):
                raise PlatformError(self._failure(exc, previous)) from exc
            raise

    def _pki(self, topology: Topology, previous: PlatformState | None, tls: bool) -> str:
        """The platform's TLS root: a restart keeps its own, a first ``--tls`` start makes
        a CA and one certificate per site, the router (edge) and the operator. This
        process then acts as the operator (``act_as_operator``)."""
        if previous is not None and tls and not previous.tls_dir:
            raise PlatformError(
                f"the platform in {self.state_dir} was first started without --tls and "
                "restarts as it was; start a new one with --tls in another --state-dir"
            )
        root = previous.tls_dir if previous is not None else ""
        if previous is None and tls:
            root = str(self.state_dir / TLS_DIR)
            issue_local_pki(Path(root), [*topology.site_names, EDGE_IDENTITY, OPERATOR_IDENTITY])
        act_as_operator(root)
        return root

    @property
    def _scheme(self) -> str:
        return scheme(bool(self._tls_dir))

    def _failure(self, exc: BaseException, previous: PlatformState | None) -> str:
        if previous is None:
            return str(exc)
        return (
            f"{exc}; the restart was undone (every process stopped); the platform's record "
            f"and data stay in {self.state_dir}: fix the cause and run `watertight up` again"
        )

    def _refuse_if_running(self) -> None:
        running = self.supervisor.pids()
        if running:
            raise PlatformError(
                f"a platform is already running from {self.state_dir} ({len(running)} "
                "processes); use `watertight status`, or `watertight down` first"
            )

    @staticmethod
    def _plan(
        topology: Topology, topology_file: Path, previous: PlatformState | None, router_port: int
    ) -> PortPlan:
        if previous is not None:
            return recorded_plan(previous, topology, topology_file, router_port)
        if router_port and not port_is_free(router_port):
            raise PlatformError(f"router port {router_port} is already in use; pick another")
        return fresh_plan(topology, router_port)

    def _start_all(
        self,
        topology: Topology,
        topology_file: Path,
        credentials: Path,
        seed_routes: SeedRoutes,
        plan: PortPlan,
        previous: PlatformState | None,
        progress: Progress,
        ready_timeout: float,
        etcd_binary: Path,
    ) -> PlatformState:
        sites = list(topology.site_names)
        tls = {site: Path(self._tls_dir) / site for site in sites} if self._tls_dir else None
        cluster, proxy = start_foundation(
            self.supervisor, topology, plan, previous, progress, ready_timeout, etcd_binary, tls
        )
        register_peer_ids(cluster, proxy)
        progress(f"placing the etcd leader in {topology.dr_site}", 0, 1)
        move_leader(cluster.client_urls, topology.dr_site)
        seed_routes(topology, client_endpoints(cluster, proxy, EDGE))  # where absent
        state = PlatformState(
            state_dir=str(self.state_dir),
            topology_file=str(topology_file),
            topology_name=topology.name,
            sites=sites,
            router_url="",
            proxy_control_url=proxy.control_url,
            etcd_client_urls=cluster.client_urls,
            credentials_dir=str(credentials),
            tls_dir=self._tls_dir,
            etcd_peer_urls={s: [m.advertised_peer_url] for s, m in cluster.members.items()},
        )
        for member in cluster.members.values():
            state.processes[member.name] = etcd_record(cluster, member)
        self._start_units(state, topology, cluster, proxy, plan, restart=previous is not None)
        self._start_router(state, topology, cluster, proxy, plan.router)
        self._start_controllers(state, cluster, proxy, plan, topology.dr_site)
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
        plan: PortPlan,
        restart: bool,
    ) -> None:
        """Every unit instance. On a restart each starts as a standby, whatever its record
        says (as ``fault site-up`` does): its database keeps its epoch, the routes in etcd
        say where each primary is, and the controller re-promotes it there in place
        (docs/controller.md) — a record naming the first run's placement could otherwise
        bring back a primary that a failover has since replaced."""
        for unit in topology.units:
            placement = topology.placement(unit)
            for site in state.sites:
                peers = {}
                for other in state.sites:
                    if other != site:
                        host, port = proxy.listener_for(
                            site, other, LOOPBACK, plan.units[unit, other]
                        )
                        peers[other] = f"{self._scheme}://{host}:{port}"
                role = "primary" if placement.primary == site else "standby"
                record = self._unit_record(
                    state, unit, site, plan.units[unit, site], role, peers,
                    client_endpoints(cluster, proxy, site),
                )  # fmt: skip
                state.processes[record.name] = record
                overrides = {"WATERTIGHT_ROLE": "standby"} if restart else {}
                self.supervisor.start(record.spec(**overrides))

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
            "WATERTIGHT_CREDENTIALS_DIR": state.credentials_dir,
            "WATERTIGHT_ROLE": role,
            "WATERTIGHT_EPOCH": "1",
            "WATERTIGHT_PEERS": json.dumps(peers, sort_keys=True),
            "WATERTIGHT_ETCD_ENDPOINTS": json.dumps(etcd),
            **tls_env(state.tls_dir, site),
        }
        return ProcessRecord(
            name=f"unit-{unit}-{site}",
            argv=[sys.executable, "-m", "app"],
            env=env,
            site=site,
            ready_url=f"{self._scheme}://{LOOPBACK}:{port}/readyz",
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
                table.setdefault(record.unit, {})[record.site] = f"{self._scheme}://{host}:{via}"
        address_map = self.state_dir / "router-addresses.json"
        address_map.write_text(json.dumps({"units": table}, indent=2, sort_keys=True))
        port = router_port
        env = {
            "WATERTIGHT_HOST": LOOPBACK,
            "WATERTIGHT_PORT": str(port),
            "WATERTIGHT_TOPOLOGY": state.topology_file,
            "WATERTIGHT_ADDRESS_MAP": str(address_map),
            "WATERTIGHT_ETCD_ENDPOINTS": json.dumps(client_endpoints(cluster, proxy, EDGE)),
            **tls_env(state.tls_dir, EDGE_IDENTITY),
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
        plan: PortPlan,
        witness: str,
    ) -> None:
        """One controller and one observer per site, seeing the world as that site does:
        every unit instance and the other etcd members through the (site → other) proxy
        listeners, its own site directly. The witness site's controller starts first, so
        it is the one that finds the leader lease free (``failover.controller.leadership``)."""
        ports = plan.controllers
        urls = {site: f"{self._scheme}://{LOOPBACK}:{port}" for site, port in ports.items()}
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
                "WATERTIGHT_CREDENTIALS_DIR": state.credentials_dir,
                "WATERTIGHT_ADDRESSES": str(address_file),
                "WATERTIGHT_STATE_DIR": str(directory),
                "WATERTIGHT_ETCD_ENDPOINTS": json.dumps(client_endpoints(cluster, proxy, site)),
                **tls_env(state.tls_dir, site),
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
            self._start_observer(state, site, env, plan.observers[site])
        state.controller_urls = [urls[site] for site in state.sites]

    def _start_observer(
        self, state: PlatformState, site: str, env: dict[str, str], metrics_port: int
    ) -> None:
        """The site's observer: its own process, so killing a controller keeps its vote.
        Ready once it serves ``/metrics``, its only HTTP interface."""
        keep = ("WATERTIGHT_SITE", "WATERTIGHT_TOPOLOGY", "WATERTIGHT_ADDRESSES", TLS_ENV)
        observer_env = {k: v for k, v in env.items() if k in keep}
        observer_env["WATERTIGHT_ETCD_ENDPOINTS"] = env["WATERTIGHT_ETCD_ENDPOINTS"]
        observer_env["WATERTIGHT_HOST"] = LOOPBACK
        observer_env["WATERTIGHT_METRICS_PORT"] = str(metrics_port)
        record = ProcessRecord(
            name=f"observer-{site}",
            argv=[sys.executable, "-m", "failover.observer"],
            env=observer_env,
            site=site,
            ready_url=f"http://{LOOPBACK}:{metrics_port}/metrics",
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
                units.setdefault(record.unit, {})[record.site] = f"{self._scheme}://{host}:{via}"
        etcd = {}
        for other, member in cluster.members.items():
            host, via = proxy.listener_for(site, other, member.host, member.client_port)
            etcd[other] = f"{self._scheme}://{host}:{via}"
        return {"units": units, "etcd": etcd, "controllers": controllers}

    # -- down / info ------------------------------------------------------------------

    def down(self) -> list[int]:
        """Stop every process of this platform; returns the pids stopped, empty when there
        was nothing to stop (not an error: ``down`` twice is fine). Keeps the record,
        marked stopped, and every byte of data: the next ``up`` restarts this platform."""
        # The etcd members last, one at a time. Signalled together, the leader tries to
        # hand its leadership to a member that is stopping too and waits out the whole
        # grace (5 s on every `down`); one at a time, each hands over to a live member
        # or finds none connected and stops at once.
        members = sorted(name for name in self.supervisor.pids() if name.startswith("etcd-"))
        stopped = self.supervisor.stop_all(last=members)
        mark_stopped(self.state_dir)
        return stopped

    def state(self) -> PlatformState:
        """The record of the running platform; :class:`PlatformError` if there is none or
        ``down`` stopped it."""
        state = PlatformState.load(self.state_dir)
        if state.stopped_at is not None:
            raise PlatformError(
                f"nothing is running from {self.state_dir}: `watertight down` stopped the "
                "platform recorded there; `watertight up` restarts it"
            )
        act_as_operator(state.tls_dir)  # every command that drives it passes through here
        return state

    def proxy(self) -> LinkProxyClient:
        state = self.state()
        token = Path(self.state_dir / "linkproxy.token").read_text().strip()
        return LinkProxyClient(state.proxy_control_url, token)
