"""``watertight up | status | down --platform docker``: the chart's rendered workloads as
containers, one Docker network per site plus one WAN network (docs/design.md §14).

``up`` renders the chart for every site with the values its Pulumi stack would use
(infra/docker/stack.py), turns each rendered pod into a container
(infra/docker/workloads.py), creates the networks, volumes and containers, and returns
once every container's readiness probe passes. Anything that fails on the way removes
everything this ``up`` created, so a failed start leaves nothing behind. ``down`` removes
every container, network, volume and firewall rule carrying the platform's id.
"""

from __future__ import annotations

import hashlib
import secrets
import shutil
import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import asdict, replace
from pathlib import Path

import httpx

from failover.credentials import FILES, write_directory
from failover.topology import Topology, load_topology
from infra.docker.containers import (
    LABEL,
    WAN,
    Names,
    create_arguments,
    free_subnets,
    host_address,
    site_block,
    write_mounted_files,
)
from infra.docker.engine import DockerEngine, EngineError
from infra.docker.readiness import Progress, is_ready, wait_ready
from infra.docker.stack import NAMESPACE, docker_chart_values
from infra.docker.state import STATE_FILE, ContainerRecord, DockerPlatformError, DockerState
from infra.docker.wan_filter import WanFilter, WanFilterError, WanRedirects
from infra.docker.wan_gateways import Endpoint, GatewayErrors, WanGateways
from infra.docker.workloads import ChartContractError, ContainerPlan, plan_site
from infra.docker_image import DockerImageError, ensure_image
from infra.local.etcd_leader import LeaderMoveError, move_leader
from infra.pulumi.chart_render import ChartRenderError, render_chart
from infra.pulumi.site_values import CREDENTIALS_SECRET
from infra.pulumi.stack_values import RELEASE

DEFAULT_IMAGE = "watertight:dev"
START_ORDER = ("etcd", "unit")
"""Components (``app.kubernetes.io/component``) started batch after batch, each ready
before the next; every other one starts last: the routers (ready once the controllers
have seeded the routes), the observers and the controllers, which judge the rest."""
READY_WITHIN_SECONDS = 300.0
APPROVERS = ("alice", "bob")
FILES_DIR = "docker-files"
"""Under the state dir: the ConfigMap and Secret files mounted into the containers."""


def platform_id(state_dir: Path) -> str:
    """A short id naming every Docker object of the platform of ``state_dir``."""
    return hashlib.sha256(str(state_dir.resolve()).encode()).hexdigest()[:8]


class DockerPlatform:
    """The docker platform whose record lives in ``state_dir``."""

    def __init__(
        self,
        state_dir: Path,
        engine: DockerEngine | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.state_dir = state_dir
        self.names = Names(platform_id(state_dir))
        self._engine = engine
        self._sleep = sleep

    @property
    def engine(self) -> DockerEngine:
        if self._engine is None:
            try:
                self._engine = DockerEngine()
            except EngineError as exc:
                raise DockerPlatformError(str(exc)) from exc
        return self._engine

    def check_engine(self) -> None:
        """Raise :class:`DockerPlatformError` unless a Docker engine answers."""
        if not self.engine.answers():
            raise DockerPlatformError(
                "no Docker engine answers `docker version`: install docker.io and start "
                'dockerd (docs/kubernetes.md, "The docker platform")'
            )

    def state(self) -> DockerState:
        return DockerState.load(self.state_dir)

    def up(
        self,
        topology_file: Path,
        image: str = DEFAULT_IMAGE,
        build: bool = True,
        progress: Progress | None = None,
        ready_within: float = READY_WITHIN_SECONDS,
        *,
        wan_gateways: bool = False,
    ) -> DockerState:
        """Start every site's rendered workloads; return once all are ready. With
        ``wan_gateways`` the WAN runs through a link proxy per site
        (infra/docker/wan_gateways.py); without, containers reach each other directly.
        Raises :class:`DockerPlatformError` with nothing of this platform left behind."""
        say = progress or (lambda phase, done, total: None)
        try:
            self.check_engine()
        except DockerPlatformError as exc:
            raise DockerPlatformError(f"{exc}; nothing was started") from exc
        if self.engine.listed("container", f"{LABEL}={self.names.platform_id}"):
            raise DockerPlatformError(
                f"a docker platform from {self.state_dir} is already running; "
                "`watertight down --platform docker` first"
            )
        topology = load_topology(topology_file)
        say("image", 0, 1)
        self._ensure_image(image, build)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        credentials = self.state_dir / "credentials"
        write_directory(credentials, APPROVERS, lambda: secrets.token_urlsafe(32))
        # The witness site's containers start first: its controller then normally leads,
        # as on the local platform (failover/controller/leadership.py says why).
        witness = topology.dr_site
        plans = sorted(self._plans(topology, image, credentials), key=lambda p: p.site != witness)
        state = DockerState(
            platform_id=self.names.platform_id,
            state_dir=str(self.state_dir),
            topology_file=str(topology_file.resolve()),
            image=image,
            sites=list(topology.site_names),
            credentials_dir=str(credentials),
        )
        try:
            self._create(plans, state, say, topology if wan_gateways else None)
            self._start(state, ready_within, say)
            say(f"placing the etcd leader in {witness}", 0, 1)
            move_leader(state.etcd_client_urls, witness)
        except (EngineError, DockerPlatformError, LeaderMoveError, OSError, ValueError,
                WanFilterError, *GatewayErrors) as exc:  # fmt: skip
            self._remove_everything()
            raise DockerPlatformError(f"{exc}; everything this start created is removed") from exc
        state.save()
        return state

    def _ensure_image(self, image: str, build: bool) -> None:
        """With ``build``, the image of the sources as they are now (rebuilt when they
        changed); without, whatever image of that tag the engine has."""
        if not build:
            if not self.engine.image_exists(image):
                raise DockerPlatformError(
                    f"image {image} is not in the engine and --no-build was given: build it "
                    f"with `python -m infra.docker_image --tag {image} --local-base`; "
                    "nothing was started"
                )
            return
        try:
            ensure_image(image)
        except DockerImageError as exc:
            raise DockerPlatformError(f"building {image}: {exc}; nothing was started") from exc

    def _plans(self, topology: Topology, image: str, credentials: Path) -> list[ContainerPlan]:
        """Every site's rendered pods, with the credentials Secret the stacks create."""
        secret = {CREDENTIALS_SECRET: {n: (credentials / n).read_text() for n in FILES.values()}}
        plans: list[ContainerPlan] = []
        for site in topology.site_names:
            values = docker_chart_values(topology, site, image)
            try:
                plans.extend(
                    plan_site(render_chart(values, RELEASE, NAMESPACE), site, NAMESPACE, secret)
                )
            except (ChartRenderError, ChartContractError) as exc:
                raise DockerPlatformError(
                    f"the chart for site {site}: {exc}; nothing was started"
                ) from exc
        return plans

    def _create(
        self,
        plans: list[ContainerPlan],
        state: DockerState,
        say: Progress,
        gateways_for: Topology | None,
    ) -> None:
        subnets = self._networks(state)
        files_root = self.state_dir / FILES_DIR
        shutil.rmtree(files_root, ignore_errors=True)
        placed = _addresses(plans, subnets, state.sites)
        if gateways_for is not None:
            # Before any workload starts, so no connection ever crosses a shorter WAN.
            say("starting the WAN gateways", 0, 1)
            gateways = WanGateways(self.engine, self.names, state)
            gateways.start(gateways_for, state.image, subnets[WAN], files_root / "wan-gateway")
            gateways.route(
                Endpoint(plan.site, wan, port) for plan, _, wan in placed for _, port in plan.ports
            )
        # The WAN names are host entries in every container, not the engine's DNS: a
        # dead data center's addresses still resolve (its records live in the bank's
        # DNS, not in the data center), so a peer dialling it times out as it would
        # across a real WAN instead of waiting on a resolver that has no answer.
        hosts = [(alias, wan) for plan, _, wan in placed for alias in plan.wan_aliases]
        for index, (plan, address, wan_address) in enumerate(placed):
            say("creating containers", index, len(plans))
            volumes = {claim: self.names.volume(plan.site, claim) for claim, _ in plan.volumes}
            for volume in volumes.values():
                self.engine.create_volume(volume, self.names.labels(plan.site))
            files = write_mounted_files(plan, files_root)
            name = self.names.container(plan)
            arguments = create_arguments(plan, self.names, address, files, volumes, hosts)
            record = _record(name, plan, address, wan_address)
            command = len(record.command) + 1
            record.options, record.image = arguments[:-command], arguments[-command]
            self._make(record, start=False)
            state.containers[name] = record
            _note_endpoint(state, plan, address)

    def _start(self, state: DockerState, within: float, say: Progress) -> None:
        """Start every site together, in :data:`START_ORDER`, each kind ready before the
        next: a site whose units were still starting would look down to observers that
        already run, and the controllers would move its units away before they ever
        served (the local platform starts in the same order)."""
        records = list(state.containers.values())  # the witness site's first

        def batch_of(record: ContainerRecord) -> int:
            order = START_ORDER
            return order.index(record.component) if record.component in order else len(order)

        for batch in range(len(START_ORDER) + 1):
            starting = [r for r in records if batch_of(r) == batch]
            say("starting containers", batch, len(START_ORDER) + 1)
            self.engine.start(*(r.name for r in starting))
            wait_ready(self.engine, starting, within)

    def _make(self, record: ContainerRecord, *, start: bool = True) -> None:
        self.engine.create_container([*record.options, record.image, *record.command])
        self.engine.connect(self.names.network(WAN), record.name, record.wan_address, ())
        if start:
            self.engine.start(record.name)

    def recreate(self, record: ContainerRecord, command: list[str]) -> ContainerRecord:
        """Replace a container by one running ``command`` after the image, everything
        else the same (its volumes, addresses and names stay): what ``kubectl edit`` of a
        workload's args does to its pod. Returns the new record (not saved)."""
        edited = replace(record, command=list(command))
        condition = self.engine.status(record.name)
        if condition == "paused":
            self.engine.unpause(record.name)
        if condition in ("running", "paused"):
            self.engine.stop(record.name)
        self.engine.remove("container", [record.name])
        self._make(edited)
        return edited

    def _networks(self, state: DockerState) -> dict[str, str]:
        """Create every site's network and the WAN network; their subnets by name."""
        networks = (*state.sites, WAN)
        try:
            chosen = free_subnets(self.engine.subnets(), len(networks))
        except ValueError as exc:
            raise DockerPlatformError(str(exc)) from exc
        subnets = dict(zip(networks, chosen, strict=True))
        state.wan_blocks = {s: site_block(subnets[WAN], i) for i, s in enumerate(state.sites)}
        for network, subnet in subnets.items():
            labels = self.names.labels(network)
            self.engine.create_network(self.names.network(network), subnet, labels)
        return subnets

    def _remove_everything(self) -> dict[str, int]:
        """Remove every container, network and volume of the platform and its firewall
        chain; their counts. Goes on past a failure and raises at the end naming what
        is left, so one stuck object never keeps the rest."""
        label = f"{LABEL}={self.names.platform_id}"
        containers = self.engine.listed("container", label)
        with suppress(EngineError):
            # Stopped before removal: a container that `rm --force` kills can be restarted
            # by its restart policy while it is removed, the likely way the 20.10 engine
            # leaks a network endpoint ("has active endpoints", seen after a failed start).
            self.engine.stop(*containers, grace_seconds=0)
        self.engine.remove("container", containers)
        removed = {"container": len(containers)}
        left: list[str] = []
        networks = self.engine.listed("network", label)
        for network in networks:
            try:
                self._remove_network(network, containers)
            except EngineError as exc:
                left.append(f"network {network} ({exc})")
        removed["network"] = len(networks)
        volumes = self.engine.listed("volume", label)
        try:
            self.engine.remove("volume", volumes)
        except EngineError as exc:
            left.append(f"volumes ({exc})")
        removed["volume"] = len(volumes)
        # Without a firewall here no cut was ever made either.
        with suppress(WanFilterError):
            WanFilter(self.names.platform_id).remove()
        with suppress(WanFilterError):
            WanRedirects(self.names.platform_id).remove()
        if left:
            raise DockerPlatformError("could not remove " + "; ".join(left))
        return removed

    def _remove_network(
        self, network: str, containers: Sequence[str] = (), attempts: int = 8
    ) -> None:
        """Remove ``network``, first dropping any endpoint the engine still holds on it.
        The 20.10 engine can keep a removed container's endpoint ("has active
        endpoints", seen in CI after a failed start and at the end of a `down` under
        load), sometimes one its `inspect` no longer lists. Each attempt force-disconnects
        what the engine lists or, when it lists none, every one of the platform's
        ``containers`` by name (the engine drops a stale endpoint by its container's
        name even after the container is gone), then waits a little longer (14 s in
        all by default). Raises the last failure, naming the endpoints still listed."""
        for attempt in range(attempts):
            try:
                self.engine.remove("network", [network])
                return
            except EngineError as exc:
                if attempt == attempts - 1:
                    held = ", ".join(self.engine.endpoints(network)) or "none listed"
                    raise EngineError(f"{exc} (endpoints still listed: {held})") from exc
            # A stale endpoint the engine no longer lists can only be named.
            for endpoint in self.engine.endpoints(network) or containers:
                with suppress(EngineError):
                    self.engine.disconnect(network, endpoint)
            self._sleep(0.5 * (attempt + 1))

    def down(self) -> dict[str, int]:
        """Remove every container, network and volume of the platform (their counts).
        The data goes with the volumes: a docker platform is a rehearsal, not a store."""
        self.check_engine()
        removed = self._remove_everything()
        (self.state_dir / STATE_FILE).unlink(missing_ok=True)
        shutil.rmtree(self.state_dir / FILES_DIR, ignore_errors=True)
        return removed

    def status(self) -> dict[str, object]:
        """The record's endpoints and every container's state now and readiness."""
        state = self.state()
        self.check_engine()
        rows: list[dict[str, object]] = []
        with httpx.Client() as client:
            for record in state.containers.values():
                condition = self.engine.status(record.name)
                ready = condition == "running" and is_ready(self.engine, client, record)
                rows.append({**asdict(record), "state": condition, "ready": ready})
        return {
            "platform": "docker",
            "router_urls": state.router_urls,
            "controller_urls": state.controller_urls,
            "etcd_client_urls": state.etcd_client_urls,
            "wan_gateways": state.gateways,
            "containers": rows,
        }


def _addresses(
    plans: list[ContainerPlan], subnets: dict[str, str], sites: list[str]
) -> list[tuple[ContainerPlan, str, str]]:
    """Each plan with its fixed addresses: on its site's network, and in its site's block
    of the WAN network."""
    placed: list[tuple[ContainerPlan, str, str]] = []
    in_site: dict[str, int] = {}
    for plan in plans:
        position = in_site[plan.site] = in_site.get(plan.site, -1) + 1
        address = host_address(subnets[plan.site], position)
        wan_address = host_address(subnets[WAN], position, sites.index(plan.site))
        placed.append((plan, address, wan_address))
    return placed


def _record(name: str, plan: ContainerPlan, address: str, wan_address: str) -> ContainerRecord:
    probe = plan.readiness
    url = None
    if probe is not None and not probe.command:
        url = f"{probe.scheme.lower()}://{address}:{probe.port}{probe.path}"
    return ContainerRecord(
        name, plan.site, plan.pod, plan.component, plan.unit, address, wan_address, url,
        list(probe.command) if probe else [], probe.timeout_seconds if probe else 1.0,
        command=list(plan.argv[1:] if plan.entrypoint_override else plan.argv),
    )  # fmt: skip


ENDPOINT_PORTS = {"router": "http", "controller": "http", "etcd": "client"}


def _note_endpoint(state: DockerState, plan: ContainerPlan, address: str) -> None:
    """Record where this host reaches a site's router, controller and etcd member (the
    first pod of each)."""
    table = {
        "router": state.router_urls,
        "controller": state.controller_urls,
        "etcd": state.etcd_client_urls,
    }.get(plan.component)
    port = dict(plan.ports).get(ENDPOINT_PORTS.get(plan.component, ""))
    if table is not None and port and plan.site not in table:
        table[plan.site] = f"http://{address}:{port}"
