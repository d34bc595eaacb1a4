"""Fault injection on the local platform (docs/design.md §6): every fault acts on real processes
and on the link proxies, prints what it did and is journalled in ``faults.jsonl``.

- ``site-down S [S2 ...]``: kill S's processes — etcd member, unit instances, S's
  controller and observer — and blackhole all of S's links (clients see timeouts, as
  with a dead data center). Several sites: every one's links are blackholed before any
  process is killed, so they are lost together.
- ``site-up S``: resume a hung site, or restart a downed one — every unit instance as
  ``standby`` (never a second primary; the controller decides roles), its etcd member,
  controller and observer as they were started — and pass S's links. A hung site's etcd
  member is restarted rather than resumed (etcd#15247, see ``_kill_hung_etcd_member``).
- ``site-hang S``: SIGSTOP every process of S (accepts TCP, never answers).
- ``partition A B``: blackhole the A↔B link. ``slow S --ms N``: latency on S's links,
  N ms on top of each link's standing base delay (the distance, set at ``up``).
- ``unit-crash U --site S``: SIGKILL one unit instance.
- ``gray-unit U --site S --mode decline-all|slow [--delay-ms N]``: a gray failure inside
  one unit instance (its ``POST /admin/gray-fault``): every write declined or delayed
  while every probe stays green. ``--mode none`` clears it; so does a restart.
- ``heal``: every link back to pass; base delays stay (every mode keeps them, so
  ``site-up`` keeps them too); every standing gray fault (per the journal) is cleared.

Also journalled here, though it is an operator's decision rather than a fault:
``declare_disaster`` (``watertight disaster declare``) rebuilds the etcd quorum on the one
surviving site; a later ``site-up`` of a lost site rejoins its etcd member afresh
(infra/local/quorum_recovery.py).
"""

from __future__ import annotations

import signal
import time
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path

from failover.topology import load_topology
from infra.gray_fault import (
    GrayFaultError,
    clear_standing_grays,
    gray_body,
    gray_entry,
    post_gray_fault,
)
from infra.local.etcd_leader import LeaderMoveError, move_leader
from infra.local.linkproxy_modes import LinkMode
from infra.local.platform import LocalPlatform
from infra.local.quorum_recovery import QuorumRecovery
from infra.local.readiness import quiet, wait_ready
from infra.local.state import (
    PlatformError,
    PlatformState,
    ProcessRecord,
    read_faults,
    record_fault,
)

SITE_UP_TIMEOUT_SECONDS = 60.0


def restart_order(records: Sequence[ProcessRecord]) -> list[ProcessRecord]:
    """The order in which ``site-up`` restarts a downed site: etcd member first (the
    others need it), then the rest one at a time.

    One at a time because the three "sites" share one machine: eleven Python processes
    importing at once saturate a 2-core laptop for seconds, starving the surviving
    sites' etcd members until every primary lease lapses — a fault no real data center's
    reboot inflicts on the others. Staggering keeps the restart's cost inside the site.
    """
    return sorted(records, key=lambda r: (r.kind != "etcd", r.name))


class FaultInjector:
    """Applies faults to a running local platform. Each method returns a sentence."""

    def __init__(self, platform: LocalPlatform) -> None:
        self.platform = platform
        self.state: PlatformState = platform.state()
        self.began_at = time.time()
        """Wall time the injector was ready to act: each fault takes effect from here,
        within milliseconds. Journalled as ``began_at``; a drill's RTO clock starts here
        rather than when it launched the CLI (whose start-up can take seconds under load)."""

    def _site(self, site: str) -> str:
        if site not in self.state.sites:
            known = ", ".join(self.state.sites)
            raise PlatformError(f"unknown site {site!r}; known sites: {known}")
        return site

    def _done(self, action: str, sentence: str, **details: object) -> str:
        record_fault(
            self.platform.state_dir, action, detail=sentence, began_at=self.began_at, **details
        )
        return sentence

    def site_down(self, *sites: str) -> str:
        """Blackhole the links of every one of ``sites`` (the fault takes effect there,
        for all of them together), then kill their processes."""
        lost = tuple(dict.fromkeys(self._site(site) for site in sites))
        with closing(self.platform.proxy()) as proxy:
            for site in lost:
                proxy.set_site_links(site, LinkMode(kind="blackhole"))
        names = [p.name for site in lost for p in self.state.site_processes(site)]
        for name in names:
            self.platform.supervisor.stop(name, grace=0.0)
        if len(lost) == 1:
            sentence = f"site {lost[0]} down: killed {len(names)} processes, blackholed its links"
            return self._done("site-down", sentence, site=lost[0])
        sentence = (
            f"sites {', '.join(lost)} down together: killed {len(names)} processes, "
            "blackholed their links"
        )
        return self._done("site-down", sentence, sites=list(lost))

    def site_up(self, site: str) -> str:
        self._site(site)
        records = self.state.site_processes(site)
        restarted_etcd = self._kill_hung_etcd_member(records)
        alive = self.platform.supervisor.pids()
        stopped = [r for r in records if r.name not in alive]
        resumed = [r for r in records if r.name in alive]
        for record in resumed:
            self.platform.supervisor.signal(record.name, signal.SIGCONT)
        with closing(self.platform.proxy()) as proxy:
            proxy.set_site_links(site, LinkMode(kind="pass"))
        rejoined = ""
        for record in restart_order(stopped):
            if record.kind == "etcd" and site in self.state.etcd_removed:
                self._recovery().rejoin(self.state, site)
                rejoined = " (etcd member rejoined afresh after the declared disaster)"
                continue
            overrides = {"WATERTIGHT_ROLE": "standby"} if record.kind == "unit" else {}
            self.platform.supervisor.start(record.spec(**overrides))
            wait_ready(self.platform.supervisor, [record], SITE_UP_TIMEOUT_SECONDS, quiet)
        sentence = (
            f"site {site} up: restarted {len(stopped)} processes (units as standby), "
            f"resumed {len(resumed)}, links pass{restarted_etcd}{rejoined}"
            f"{self._witness_leads_etcd(site)}"
        )
        return self._done("site-up", sentence, site=site)

    def _kill_hung_etcd_member(self, records: Sequence[ProcessRecord]) -> str:
        """A hung site's etcd member is killed (then restarted with the site) instead of
        resumed. etcd 3.5.1, the newest etcd on PyPI, has etcd-io/etcd#15247: a raft leader
        paused past its leases' TTL wakes up still believing it leads, finds every lease
        expired and proposes their revocation, which a follower forwards to the new
        leader — every primary lease in the cluster is revoked and every primary fences
        (seen in CI: all 8 units re-promoted after ``site-up remote-dr``). A restarted
        member starts as a follower and revokes nothing. docs/dcs.md tells the story."""
        hung = [r for r in records if r.kind == "etcd" and self.platform.supervisor.hung(r.name)]
        for record in hung:
            self.platform.supervisor.kill_hung(record.name)
        return " (its hung etcd member restarted, not resumed: etcd#15247)" if hung else ""

    def _witness_leads_etcd(self, site: str) -> str:
        """Once the witness site is back, hand etcd's raft leadership back to it
        (:mod:`infra.local.etcd_leader` says why). Never fails the site-up for it."""
        if site != load_topology(Path(self.state.topology_file)).dr_site:
            return ""
        try:
            move_leader(self.state.etcd_client_urls, site)
        except LeaderMoveError as exc:
            return f"; etcd leader left where it was ({exc})"
        return f"; etcd leader back in {site}"

    def site_hang(self, site: str) -> str:
        self._site(site)
        names = [p.name for p in self.state.site_processes(site)]
        for name in names:
            self.platform.supervisor.signal(name, signal.SIGSTOP)
        return self._done(
            "site-hang", f"site {site} hung: SIGSTOP to {len(names)} processes", site=site
        )

    def partition(self, a: str, b: str) -> str:
        self._site(a)
        self._site(b)
        if a == b:
            raise PlatformError("partition needs two different sites")
        with closing(self.platform.proxy()) as proxy:
            proxy.set_mode(a, b, LinkMode(kind="blackhole"))
        return self._done("partition", f"partitioned {a} ↔ {b} (blackhole)", sites=[a, b])

    def slow(self, site: str, ms: int) -> str:
        self._site(site)
        if ms < 0:
            raise PlatformError("--ms must be zero or positive")
        with closing(self.platform.proxy()) as proxy:
            proxy.set_site_links(site, LinkMode(kind="latency", latency_ms=ms))
        sentence = f"site {site} links slowed by {ms} ms (on top of their base delay)"
        return self._done("slow", sentence, site=site, ms=ms)

    def unit_crash(self, unit: str, site: str) -> str:
        self._site(site)
        name = f"unit-{unit}-{site}"
        if name not in self.state.processes:
            units = sorted({p.unit for p in self.state.processes.values() if p.unit})
            raise PlatformError(f"unknown unit {unit!r}; known units: {', '.join(units)}")
        if not self.platform.supervisor.signal(name, signal.SIGKILL):
            raise PlatformError(f"{unit} in {site} is not running")
        return self._done("unit-crash", f"crashed {unit} in {site} (SIGKILL)", unit=unit, site=site)

    def gray_unit(self, unit: str, site: str, mode: str, delay_ms: int | None = None) -> str:
        """Set (or with ``mode`` ``none`` clear) one instance's gray fault through its own
        admin-credential API; the instance refuses bad input (422), which is raised."""
        view = self._post_gray(unit, site, gray_body(mode, delay_ms))
        sentence, details = gray_entry(unit, site, mode, view)
        return self._done("gray-unit", sentence, **details)

    def _unit_record(self, unit: str, site: str) -> ProcessRecord:
        self._site(site)
        record = self.state.processes.get(f"unit-{unit}-{site}")
        if record is None or record.ready_url is None:
            units = sorted({p.unit for p in self.state.processes.values() if p.unit})
            raise PlatformError(f"unknown unit {unit!r}; known units: {', '.join(units)}")
        return record

    def _post_gray(self, unit: str, site: str, body: dict[str, object]) -> dict[str, object]:
        record = self._unit_record(unit, site)
        base = (record.ready_url or "").removesuffix("/readyz")
        try:
            return post_gray_fault(record.name, base, Path(self.state.credentials_dir), body)
        except GrayFaultError as exc:
            raise PlatformError(str(exc)) from exc

    def declare_disaster(self, survivor: str) -> str:
        lost = self._recovery().declare(self.state, survivor)
        sentence = (
            f"disaster declared: etcd rebuilt as a one-member cluster on {survivor}; "
            f"{', '.join(lost)} removed (their members rejoin afresh on site-up)"
        )
        return self._done("declare-disaster", sentence, site=survivor, lost=lost)

    def _recovery(self) -> QuorumRecovery:
        return QuorumRecovery(self.platform.supervisor, self.platform.proxy)

    def heal(self) -> str:
        with closing(self.platform.proxy()) as proxy:
            proxy.heal()
        cleared, gray = clear_standing_grays(
            read_faults(self.platform.state_dir),
            lambda unit, site: self._post_gray(unit, site, {"mode": "none"}),
        )
        sentence = f"healed: every link passes (base delays kept){gray}"
        return self._done("heal", sentence, gray_cleared=[list(c) for c in cleared])
