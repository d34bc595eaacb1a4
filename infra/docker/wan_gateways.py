"""The WAN gateways of the docker platform: the distance between sites, and the ``slow``
fault (docs/design.md §14).

This kernel has no ``netem``, so no delay can be put on the WAN bridge itself. Instead
each site has a gateway: a container of the project's image running the link proxy
(infra/local/linkproxy_main.py, the local platform's WAN), on the WAN network only, at a
fixed address in its site's block. For every endpoint of every other site (a
container's WAN address and each port its pod declares) the gateway listens on a port of
its own, and a host redirect (infra/docker/wan_filter.py, :class:`WanRedirects`) sends
the site's connections to that endpoint through it while the two sites are not cut (a
cut pair's new connections meet the cut itself: no answer to their SYN). Each gateway
holds every link's base delay (the topology's ``network``: the distance, not a fault)
and the ``slow`` fault's latency; ``heal`` puts the links back to ``pass``, base delays
kept.

The gateways are the platform's model of the WAN, not workloads of the chart: no
workload knows of them. A site's gateway is not stopped with the site (the site's WAN
cut stops its traffic, gateway included).

Why not one transparent proxy: a process in a container cannot read the original
destination (``SO_ORIGINAL_DST``) of a connection NATed in the host's namespace (tried:
it reads its own address and dials itself), so each endpoint needs a port of its own.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from failover.topology import Topology
from infra.docker.containers import WAN, Names, host_address
from infra.docker.engine import DockerEngine
from infra.docker.state import DockerPlatformError, DockerState
from infra.docker.wan_filter import WanFilter, WanRedirects
from infra.local.foundation import site_link_delays
from infra.local.linkproxy_client import LinkProxyClient, LinkProxyError, ensure_token_file
from infra.local.linkproxy_modes import LinkMode

COMPONENT = "wan-gateway"
GATEWAY_INDEX = 240
"""A site's gateway is host ``.250`` of its WAN block (infra/docker/containers.py)."""
CONTROL_PORT = 9901
IMAGE_USER = (10001, 10001)
"""The image's own user (Dockerfile), who must read the control token."""
TOKEN_MOUNT = "/run/watertight-wan"
READY_WITHIN_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Something another site dials across the WAN: a container's address and port."""

    site: str
    address: str
    port: int


def gateway_name(names: Names, site: str) -> str:
    """The container name of ``site``'s gateway."""
    return f"{names.prefix}-{site}-{COMPONENT}"


def gateway_arguments(
    names: Names, site: str, address: str, image: str, sites: Sequence[str], token_dir: Path
) -> list[str]:
    """``docker create`` arguments of ``site``'s gateway at ``address`` on the WAN."""
    labels = names.labels(site, component=COMPONENT)
    return [
        f"--name={gateway_name(names, site)}",
        f"--network={names.network(WAN)}",
        f"--ip={address}",
        *(f"--label={key}={value}" for key, value in labels.items()),
        "--restart=unless-stopped",
        "--no-healthcheck",
        "--read-only",
        "--mount=type=tmpfs,destination=/tmp",
        "--cap-drop=ALL",
        "--security-opt=no-new-privileges",
        f"--mount=type=bind,source={token_dir},destination={TOKEN_MOUNT},readonly",
        image,
        "python", "-m", "infra.local.linkproxy_main", "--sites", ",".join(sites),
        "--token-file", f"{TOKEN_MOUNT}/token", "--ready-file", "/tmp/ready",
        "--host", "0.0.0.0", "--control-port", str(CONTROL_PORT),
    ]  # fmt: skip


class WanGateways:
    """The gateways of the platform recorded in ``state``."""

    def __init__(self, engine: DockerEngine, names: Names, state: DockerState) -> None:
        self.engine = engine
        self.names = names
        self.state = state

    def start(self, topology: Topology, image: str, wan_subnet: str, token_dir: Path) -> None:
        """Start every site's gateway and give each the links' base delays; record
        where each answers. Returns once every one answers its control API. Their control
        token is written in ``token_dir``."""
        token_dir.mkdir(parents=True, exist_ok=True)
        token_file = token_dir / "token"
        ensure_token_file(token_file)
        if os.geteuid() == 0:
            os.chown(token_file, *IMAGE_USER)
        else:
            token_file.chmod(0o644)
        self.state.gateway_token_file = str(token_file)
        for index, site in enumerate(self.state.sites):
            address = host_address(wan_subnet, GATEWAY_INDEX, index)
            arguments = gateway_arguments(self.names, site, address, image, self.state.sites,
                                          token_dir)  # fmt: skip
            self.engine.create_container(arguments)
            self.engine.start(gateway_name(self.names, site))
            self.state.gateways[site] = address
        for site in self.state.sites:
            self._wait_answers(site)
            with closing(self._client(site)) as gateway:
                for (a, b), delay_ms in site_link_delays(topology).items():
                    gateway.set_base_delay(a, b, delay_ms)

    def _wait_answers(self, site: str) -> None:
        deadline = time.monotonic() + READY_WITHIN_SECONDS
        with closing(self._client(site)) as gateway:
            while not gateway.healthy():
                if time.monotonic() > deadline:
                    logs = self.engine.logs(gateway_name(self.names, site), 15)
                    raise DockerPlatformError(
                        f"the WAN gateway of {site} did not answer within "
                        f"{READY_WITHIN_SECONDS:.0f} s: {logs}"
                    )
                time.sleep(0.5)

    def route(self, endpoints: Iterable[Endpoint]) -> int:
        """Send every site's connections to the other sites' ``endpoints`` through the
        site's gateway; how many routes were set."""
        redirects = WanRedirects(self.state.platform_id)
        targets, sites = list(endpoints), self.state.sites
        routed = 0
        for site, address in self.state.gateways.items():
            redirects.exempt(address)
            with closing(self._client(site)) as gateway:
                for target in (t for t in targets if t.site != site):
                    endpoint = (target.address, target.port)
                    _, port = gateway.listener_for(site, target.site, *endpoint)
                    pair = (sites.index(site), sites.index(target.site))
                    redirects.redirect(pair, endpoint, (address, port))
                    routed += 1
        follow_cuts(self.state)
        return routed

    def slow(self, site: str, ms: int) -> None:
        """``ms`` of latency on every link of ``site`` (on top of the base delay), each way."""
        for gateway_site in self.state.gateways:
            with closing(self._client(gateway_site)) as gateway:
                gateway.set_site_links(site, LinkMode(kind="latency", latency_ms=ms))

    def heal(self) -> None:
        """Every link of every gateway back to ``pass``; base delays stay."""
        for gateway_site in self.state.gateways:
            with closing(self._client(gateway_site)) as gateway:
                gateway.heal()

    def _client(self, site: str) -> LinkProxyClient:
        token = Path(self.state.gateway_token_file).read_text(encoding="utf-8").strip()
        return LinkProxyClient(f"http://{self.state.gateways[site]}:{CONTROL_PORT}", token)


def follow_cuts(state: DockerState) -> None:
    """Route through the gateways exactly the pairs of sites the WAN cuts leave joined
    (:class:`WanRedirects` says why); call after every change of the cuts. Nothing to do
    for a platform started without gateways."""
    if not state.gateways:
        return
    blocks = [state.wan_blocks[site] for site in state.sites]
    WanRedirects(state.platform_id).follow(blocks, WanFilter(state.platform_id).cuts())


GatewayErrors = (LinkProxyError,)
"""What a gateway call raises besides :class:`DockerPlatformError`."""
