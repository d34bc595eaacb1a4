"""Faults on the docker platform: the same ``watertight fault`` vocabulary as the local
platform (infra/local/faults.py), acting on containers and the WAN firewall, and
journalled in the same ``faults.jsonl`` the drills read.

- ``site-down S [S2 ...]``: cut S off the WAN (one firewall rule each way, at once;
  several sites are all cut before any container stops), then stop
  every container of S (``docker stop --time 0``: killed, no graceful shutdown), as a
  power cut would. The engine takes a second or two to stop a dozen containers; the cut
  makes the fault take effect at once, as on the local platform. Its volumes stay.
- ``site-up S``: lift S's WAN cut; resume a hung site, or start a downed one's containers
  again with
  exactly their rendered command and environment (as a cluster restarts its pods: a unit
  whose Deployment says ``primary`` comes back saying so, and must not serve as one),
  etcd member first, one at a time; return once they are all ready.
- ``site-hang S``: pause every container of S (they keep their connections open and
  answer nothing).
- ``partition A B``: drop every WAN packet between A and B (infra/docker/wan_filter.py).
- ``unit-crash U --site S``: SIGKILL the unit instance's process from this host; the
  engine restarts the container by its restart policy, as a kubelet restarts a crashed
  container (the local platform leaves a crashed process down).
- ``gray-unit U --site S --mode ...``: the instance's own gray-fault API
  (infra/gray_fault.py), as on the local platform.
- ``slow S --ms N``: N ms each way on every link of S, on top of each link's base delay,
  in the sites' WAN gateways (infra/docker/wan_gateways.py); refused on a platform
  started without them.
- ``heal``: every WAN cut removed, every link back to ``pass`` (base delays kept); every
  standing gray fault cleared.
"""

from __future__ import annotations

import time
from pathlib import Path

from failover.topology import load_topology
from infra.docker.engine import EngineError
from infra.docker.platform import DockerPlatform
from infra.docker.quorum import DockerQuorumRecovery
from infra.docker.readiness import wait_ready
from infra.docker.state import ContainerRecord, DockerPlatformError, DockerState
from infra.docker.wan_filter import WanFilter, WanFilterError
from infra.docker.wan_gateways import GatewayErrors, WanGateways, follow_cuts
from infra.gray_fault import (
    GrayFaultError,
    clear_standing_grays,
    gray_body,
    gray_entry,
    post_gray_fault,
)
from infra.local.etcd_leader import LeaderMoveError, move_leader
from infra.local.state import read_faults, record_fault

SITE_UP_WITHIN_SECONDS = 90.0


class DockerFaults:
    """Faults on the docker platform of ``platform``; each returns the sentence it journals."""

    def __init__(self, platform: DockerPlatform) -> None:
        self.platform = platform
        self.state: DockerState = platform.state()
        self.began_at = time.time()
        """As on the local platform: the wall time from which each fault takes effect."""

    def _site(self, site: str) -> list[ContainerRecord]:
        if site not in self.state.sites:
            raise DockerPlatformError(
                f"unknown site {site!r}; known sites: {', '.join(self.state.sites)}"
            )
        return self.state.site_containers(site)

    def _done(self, action: str, sentence: str, **details: object) -> str:
        record_fault(
            Path(self.state.state_dir), action, detail=sentence, began_at=self.began_at,
            platform="docker", **details,
        )  # fmt: skip
        return sentence

    def site_down(self, *sites: str) -> str:
        """Cut every one of ``sites`` off the WAN (the fault takes effect there, for all
        of them together), then kill their containers."""
        lost = tuple(dict.fromkeys(sites))
        names = [c.name for site in lost for c in self._site(site)]
        wan = WanFilter(self.state.platform_id)
        for site in lost:
            wan.isolate(self.state.wan_blocks[site])
        follow_cuts(self.state)
        self.platform.engine.unpause(*self._paused(names))
        self.platform.engine.stop(*names, grace_seconds=0)
        if len(lost) == 1:
            sentence = f"site {lost[0]} down: cut off the WAN, killed {len(names)} containers"
            return self._done("site-down", sentence, site=lost[0])
        sentence = (
            f"sites {', '.join(lost)} down together: cut off the WAN, "
            f"killed {len(names)} containers"
        )
        return self._done("site-down", sentence, sites=list(lost))

    def site_up(self, site: str) -> str:
        records = self._site(site)
        engine = self.platform.engine
        WanFilter(self.state.platform_id).rejoin(self.state.wan_blocks[site])
        follow_cuts(self.state)
        paused = self._paused([r.name for r in records])
        engine.unpause(*paused)
        stopped = [r for r in records if engine.status(r.name) in ("exited", "created", "dead")]
        rejoined = ""
        if site in self.state.etcd_removed:
            self._recovery().rejoin(site)
            stopped = [r for r in stopped if r.component != "etcd"]
            records = self.state.site_containers(site)
            rejoined = " (etcd member rejoined afresh after the declared disaster)"
        # The etcd member first (every other program needs its site's member), then one
        # container at a time, each ready before the next, as the local platform does:
        # a dozen Python programs starting at once would take both cores of a small
        # machine from the sites that stayed up, and their customers' writes with them.
        for record in sorted(stopped, key=lambda r: r.component != "etcd"):
            engine.start(record.name)
            wait_ready(engine, [record], SITE_UP_WITHIN_SECONDS)
        wait_ready(engine, records, SITE_UP_WITHIN_SECONDS)
        sentence = (
            f"site {site} up: started {len(stopped)} containers with their rendered "
            f"settings, resumed {len(paused)}; all ready{rejoined}{self._witness_leads_etcd(site)}"
        )
        return self._done("site-up", sentence, site=site)

    def _witness_leads_etcd(self, site: str) -> str:
        """Once the witness site is back, hand etcd's raft leadership back to it
        (infra/local/etcd_leader.py says why). Never fails the site-up for it."""
        if site != load_topology(Path(self.state.topology_file)).dr_site:
            return ""
        try:
            move_leader(self.state.etcd_client_urls, site)
        except LeaderMoveError as exc:
            return f"; etcd leader left where it was ({exc})"
        return f"; etcd leader back in {site}"

    def _paused(self, names: list[str]) -> list[str]:
        return [n for n in names if self.platform.engine.status(n) == "paused"]

    def _recovery(self) -> DockerQuorumRecovery:
        return DockerQuorumRecovery(self.platform, self.state)

    def declare_disaster(self, survivor: str) -> str:
        """Rebuild the etcd quorum on ``survivor`` (infra/docker/quorum.py)."""
        lost = self._recovery().declare(survivor)
        sentence = (
            f"disaster declared: etcd rebuilt as a one-member cluster on {survivor}; "
            f"{', '.join(lost)} removed (their members rejoin afresh on site-up)"
        )
        return self._done("declare-disaster", sentence, site=survivor, lost=lost)

    def site_hang(self, site: str) -> str:
        names = [c.name for c in self._site(site)]
        self.platform.engine.pause(*names)
        return self._done(
            "site-hang", f"site {site} hung: paused {len(names)} containers", site=site
        )

    def partition(self, a: str, b: str) -> str:
        self._site(a)
        self._site(b)
        if a == b:
            raise DockerPlatformError("partition needs two different sites")
        WanFilter(self.state.platform_id).cut(self.state.wan_blocks[a], self.state.wan_blocks[b])
        follow_cuts(self.state)
        return self._done("partition", f"partitioned {a} ↔ {b} (WAN packets dropped)", sites=[a, b])

    def heal(self) -> str:
        WanFilter(self.state.platform_id).clear()
        follow_cuts(self.state)
        self._gateways().heal()
        journal = read_faults(Path(self.state.state_dir))
        cleared, gray = clear_standing_grays(
            journal, lambda unit, site: self._post_gray(unit, site, {"mode": "none"})
        )
        links = ", links pass (base delays kept)" if self.state.gateways else ""
        sentence = f"healed: every WAN cut removed{links}{gray}"
        return self._done("heal", sentence, gray_cleared=[list(c) for c in cleared])

    def slow(self, site: str, ms: int) -> str:
        self._site(site)
        if ms < 0:
            raise DockerPlatformError("--ms must be zero or positive")
        if not self.state.gateways:
            raise DockerPlatformError(
                "slow on the docker platform needs its WAN gateways (this kernel has no "
                "`tc netem`): start it with `watertight up --platform docker --wan-gateways`"
            )
        self._gateways().slow(site, ms)
        sentence = f"site {site} links slowed by {ms} ms (on top of their base delay)"
        return self._done("slow", sentence, site=site, ms=ms)

    def _gateways(self) -> WanGateways:
        return WanGateways(self.platform.engine, self.platform.names, self.state)

    def unit_crash(self, unit: str, site: str) -> str:
        record = self._unit(unit, site)
        if self.platform.engine.status(record.name) != "running":
            raise DockerPlatformError(f"{unit} in {site} is not running")
        self.platform.engine.crash(record.name)
        sentence = f"crashed {unit} in {site} (SIGKILL; the engine restarts its container)"
        return self._done("unit-crash", sentence, unit=unit, site=site)

    def gray_unit(self, unit: str, site: str, mode: str, delay_ms: int | None = None) -> str:
        """Set (or with ``mode`` ``none`` clear) one instance's gray fault; the instance
        refuses bad input (422), which is raised."""
        view = self._post_gray(unit, site, gray_body(mode, delay_ms))
        sentence, details = gray_entry(unit, site, mode, view)
        return self._done("gray-unit", sentence, **details)

    def _unit(self, unit: str, site: str) -> ContainerRecord:
        found = [r for r in self._site(site) if r.component == "unit" and r.unit == unit]
        if not found or found[0].ready_url is None:
            units = sorted({r.unit for r in self.state.containers.values() if r.unit})
            raise DockerPlatformError(f"unknown unit {unit!r}; known units: {', '.join(units)}")
        return found[0]

    def _post_gray(self, unit: str, site: str, body: dict[str, object]) -> dict[str, object]:
        record = self._unit(unit, site)
        base = (record.ready_url or "").removesuffix("/readyz")
        return post_gray_fault(record.name, base, Path(self.state.credentials_dir), body)


FaultErrors = (DockerPlatformError, EngineError, WanFilterError, GrayFaultError, *GatewayErrors)
"""What a docker fault raises; each message says what failed."""
