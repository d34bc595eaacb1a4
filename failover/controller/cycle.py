"""One controller cycle, Patroni-style: frozen snapshot → pure decision → actions → sentence.

Every controller runs cycles (so each records what it observes and stands ready); only
the leader acts. The leader records the decision with its reason *before* the first
action, each action before it runs and its outcome after (docs/design.md §3.7). The cycle never
raises: an unreadable etcd or a lost lease ends it with a sentence saying so.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import replace

from failover.controller.builder import SnapshotBuilder, World
from failover.controller.executor import Executor
from failover.controller.metrics import ControllerMetrics
from failover.controller.records import RecordStore
from failover.controller.state import ControllerState, ReplicationMark
from failover.dcs import DcsError
from failover.errors import NotLeader
from failover.pacing import run_at_fixed_rate
from failover.plan import Decision, decide
from failover.quorum import SiteState, SiteVerdict
from failover.snapshot import Route
from failover.trends import TrendWatch

LOG = logging.getLogger("failover.controller")


def _shape(summary: str) -> str:
    """A sentence without its counters: "for 3 rounds" and "for 4 rounds" say the same."""
    return re.sub(r"\d+ rounds?", "N rounds", summary)


class Controller:
    """The cycle and what it remembers between cycles (last verdicts, last sentence)."""

    def __init__(
        self,
        me: str,
        builder: SnapshotBuilder,
        executor: Executor,
        state: ControllerState,
        records: RecordStore,
        is_leader: Callable[[], bool],
        metrics: ControllerMetrics | None = None,
    ) -> None:
        self.me = me
        self._builder, self._executor, self._state = builder, executor, state
        self._records, self._is_leader = records, is_leader
        self.lock = threading.RLock()
        """Held for a whole cycle and by planned operations, so they never interleave."""
        self.metrics = metrics or ControllerMetrics()
        self._verdicts: dict[str, SiteState] = {}
        self._failing_since: dict[str, float] = {}
        self._up_since: dict[str, float] = {}
        self._lapsed: Mapping[str, int] = {}
        self._last_summary = ""
        self._was_leader = False
        self.last_world: World | None = None
        self.trends: TrendWatch | None = None
        """Built from the topology's ``trends`` on the first cycle (docs/design.md §12)."""
        self.last_decision: Decision | None = None
        self.cycles = 0
        self._stop = threading.Event()
        self._wake = threading.Event()

    def run_cycle(self) -> str:
        """One cycle; returns its sentence."""
        with self.lock:
            try:
                world = self._builder.build()
            except DcsError as exc:
                return self._say(f"no action: cannot read the quorum store: {exc}")
            # What this controller remembers enters the snapshot; the decision says
            # what to remember next.
            acting = self._executor.acting_units()
            snapshot = replace(world.snapshot, lapsed_cycles=self._lapsed, acting=acting)
            world = replace(world, snapshot=snapshot)
            decision = decide(world.snapshot)
            self._lapsed = decision.lapsed_cycles
            self.last_world, self.last_decision = world, decision
            self.cycles += 1
            self.metrics.cycles.inc()
            self._observe(decision.sites)
            self._watch_trends(world)
            if world.snapshot.leader != self.me or not self._is_leader():
                self._was_leader = False
                return self._say(decision.summary)
            return self._lead(world, decision)

    def _lead(self, world: World, decision: Decision) -> str:
        if not self._was_leader:
            self._records.record("leader", f"{self.me} leads", site=self.me)
            self._was_leader = True
        actions, summary = decision.actions, decision.summary
        try:
            self._housekeeping(world)
            if actions or _shape(summary) != _shape(self._last_summary):
                self._records.record(
                    "decision", summary, actions=[a.kind for a in actions],
                    units=sorted({a.unit for a in actions}),
                )  # fmt: skip
            ran = self._executor.run_all(actions, world, woken=self._wake)
            summary += ran.note()
        except NotLeader:
            return self._say(f"stopped: {self.me} lost the leader lease mid-cycle; {summary}")
        except DcsError as exc:
            return self._say(f"stopped: the quorum store failed mid-cycle ({exc}); {summary}")
        return self._say(summary)

    def _housekeeping(self, world: World) -> None:
        """Seed absent routes; persist the replication marks; expire approvals overtaken
        by a move. Nothing of a unit still acting: its steps may be ahead of this snapshot."""
        seeded = self._executor.seed_missing_routes(world)
        if seeded:
            self._records.record(
                "routes_seeded",
                f"{self.me} gave {', '.join(seeded)} their first route (placement primary, "
                "epoch 1): no route existed",
                units=seeded,
            )
        snapshot = world.snapshot
        acting = snapshot.acting
        for unit, route in snapshot.routes.items():
            if unit not in acting:
                self._persist_mark(unit, route, world)
        for approval in world.approvals:
            if approval.unit in acting:
                continue
            current = snapshot.routes.get(approval.unit)
            if approval.open and current is not None and current.epoch > approval.expected_epoch:
                self._state.set_approval_status(approval, "expired")

    def _persist_mark(self, unit: str, route: Route, world: World) -> None:
        """Raise the acknowledged high-water mark in etcd (it never goes down)."""
        mark = world.marks.get(unit) or ReplicationMark(route.epoch)
        acknowledged = max(mark.acknowledged_lsn, world.acknowledged.get(unit, 0))
        if acknowledged != mark.acknowledged_lsn:
            self._executor.check_fence()
            self._state.put_mark(unit, replace(mark, acknowledged_lsn=acknowledged))

    def _observe(self, sites: Mapping[str, SiteVerdict]) -> None:
        """Record every change of a site verdict (``site_down`` when one is declared down)."""
        for site, verdict in sites.items():
            before = self._verdicts.get(site)
            if before is verdict.state:
                continue
            self._verdicts[site] = verdict.state
            self._time_detection(site, verdict)
            if verdict.state is SiteState.UP:
                self._up_since[site] = time.monotonic()
            else:
                self._up_since.pop(site, None)
            if before is None and verdict.state is SiteState.UP:
                continue
            kind = "site_down" if verdict.down else "site_verdict"
            self._records.record(
                kind, verdict.reason, site=site, state=str(verdict.state),
                previous=str(before) if before else None, rounds=verdict.rounds,
                failing=list(verdict.failing),
            )  # fmt: skip

    def _watch_trends(self, world: World) -> None:
        """Feed this cycle's traffic readings to the trend watch; record each warning
        raised or cleared. Every controller watches (like the site verdicts), and what
        it finds goes to the records and metrics only: the decision above was already
        made from the snapshot, which holds no traffic, so a warning moves nothing."""
        snapshot = world.snapshot
        if self.trends is None:
            self.trends = TrendWatch(snapshot.topology.trends)
        routes = {unit: route.site for unit, route in snapshot.routes.items()}
        update = self.trends.observe(snapshot.now, routes, world.traffic)
        for warning in update.raised:
            self._records.record(
                "trend_warning", warning.reason, unit=warning.unit, site=warning.site,
                trend=warning.kind, held_seconds=round(snapshot.now - warning.since, 1),
            )  # fmt: skip
        for warning, why in update.cleared:
            self._records.record(
                "trend_cleared", why, unit=warning.unit, site=warning.site, trend=warning.kind,
                warned=warning.reason,
            )  # fmt: skip
        self.metrics.show_trends(update.active)

    def _time_detection(self, site: str, verdict: SiteVerdict) -> None:
        """Detection latency: from the first non-UP verdict of a site to its DOWN verdict."""
        now = time.monotonic()
        if verdict.state is SiteState.UP:
            self._failing_since.pop(site, None)
            return
        since = self._failing_since.setdefault(site, now)
        if verdict.down:
            self.metrics.detection.labels(site).set(now - since)

    def _say(self, summary: str) -> str:
        if summary != self._last_summary:
            LOG.info("%s", summary)
            self._last_summary = summary
        return summary

    def up_for(self, site: str) -> float | None:
        """Seconds ``site`` has been UP without interruption (None: not up)."""
        since = self._up_since.get(site)
        return None if since is None else time.monotonic() - since

    @property
    def last_summary(self) -> str:
        return self._last_summary

    def start(self, interval: float) -> threading.Thread:
        thread = threading.Thread(target=self._loop, args=(interval,), name="cycle", daemon=True)
        thread.start()
        return thread

    def join_steps(self) -> None:
        """Wait until the steps a woken cycle left running have ended."""
        self._executor.join()

    def wake(self) -> None:
        """Run the next cycle now rather than on the interval (failover/controller/wakeups.py);
        safe from any thread."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def _loop(self, interval: float) -> None:
        run_at_fixed_rate(
            self.run_cycle, interval, self._stop, LOG, "controller cycle", wake=self._wake
        )
