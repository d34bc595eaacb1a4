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

import secrets
from collections.abc import Callable
from pathlib import Path

from failover.credentials import write_directory
from failover.topology import Topology, load_topology
from infra.local.certificates import (
    EDGE_IDENTITY,
    OPERATOR_IDENTITY,
    TLS_DIR,
    act_as_operator,
    issue_local_pki,
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
from infra.local.site_programs import control_records, router_record, unit_peers, unit_record
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
        # Its imports (~1 s of CPU per program) overlap etcd's start and the routes' seeding.
        self.supervisor.start_launcher()
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
        self._start(state, router_record(state, cluster, proxy, plan.router))
        for record in control_records(state, cluster, proxy, plan, topology.dr_site):
            self._start(state, record)
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
                role = "primary" if placement.primary == site else "standby"
                record = unit_record(
                    state, unit, site, plan.units[unit, site], role,
                    unit_peers(state, proxy, plan, unit, site),
                    client_endpoints(cluster, proxy, site),
                )  # fmt: skip
                overrides = {"WATERTIGHT_ROLE": "standby"} if restart else {}
                self._start(state, record, **overrides)

    def _start(self, state: PlatformState, record: ProcessRecord, **overrides: str) -> None:
        state.processes[record.name] = record
        self.supervisor.start(record.spec(**overrides))

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
