"""The drill runner: one chaostoolkit-style experiment, from load to report.

Order of a run (every time on the drill clock, seconds from the start of the load):

1. start the load; while it runs, a watcher checks the ``abort_if`` guard rails, polls
   the controller's events and reports progress;
2. just before the first method step, check the **steady state** (probes over the
   attempts of the last window); if it does not hold, abort without touching anything;
3. run the **method** on schedule (each step at its ``at``); a step that fails, or a
   ``wait-until`` that times out, aborts the drill;
4. when the load ends, check the steady state again (a row of the report);
5. **always** run the rollbacks, in order — also after an abort, a guard rail, a crash
   of the runner's own code or an interrupt (``interrupt`` event, set on SIGINT);
6. read back every acknowledged write, fetch the controller's events, measure, judge,
   build the report and write it (``report.json``, ``report.md``, ``timeline.svg``,
   plus the raw evidence ``attempts.jsonl`` and ``readbacks.jsonl``).

The verdict is ``pass`` only when every expectation holds and nothing aborted.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from drills.announce import Announcer
from drills.attempt_stats import error_rate, units_not_serving, window
from drills.attempts import Attempt, ReadBack
from drills.controller import merge_events
from drills.controller_event import ControllerEvent
from drills.executed import ExecutedAction
from drills.expectations import ExpectationResult, steady_state_violations, tripped_guard
from drills.loadgen import Clock, LoadGenerator, customers
from drills.measure import measure
from drills.platform import DrillPlatform, PlatformError
from drills.progress import NullProgress, ProgressSink, Snapshot
from drills.readback import read_back
from drills.report import build_report, write_report
from drills.report_json import Report
from drills.spec import AllUnitsServingProbe, DrillSpec, Load
from drills.steps import (
    LEADER_SITE,
    Approve,
    DeclareDisaster,
    Failback,
    Failover,
    Step,
    Switchover,
    WaitUntil,
)
from drills.write_transport import HttpxTransport, KeepAliveTransport, RouterTransport
from failover.topology import Topology

SITE_FIELDS = ("site", "a", "b", "from_site", "to_site")
SERVING_WINDOW_SECONDS = 2.0
END_WINDOW_SECONDS = 5.0
READ_BACK_TIMEOUT_SECONDS = 2.0
"""Each read of the read-back; one that takes longer is tried again next round."""


@dataclass(frozen=True, slots=True)
class RunOptions:
    """Knobs of a run; the defaults suit the local platform."""

    seed: int = 0
    tick_seconds: float = 0.5
    events_every_seconds: float = 2.0
    retry_for_seconds: float = 10.0
    settle_seconds: float = 30.0
    wait_poll_seconds: float = 0.5
    warm_up_seconds: float = 30.0
    """Before the drill clock starts: send the spec's load (to customers of its own)
    until the steady state holds, for at most this long. 0 disables it."""


def units_of(topology: Topology, load: Load, run_id: str) -> list[str]:
    """The units the customers of a load (run ``run_id``) live in, sorted."""
    return sorted(unit for unit, found in customers(load, topology, run_id).items() if found)


class DrillAbortError(Exception):
    """Raised inside the method to stop it; the message is the abort reason."""


def resolve_leader(step: Step, leader: str | None) -> Step:
    """``step`` with every ``$leader`` site replaced by ``leader``. Raises
    :class:`PlatformError` when the step names ``$leader`` and it is unknown."""
    fields = [f for f in SITE_FIELDS if getattr(step, f, None) == LEADER_SITE]
    if not fields:
        return step
    if leader is None:
        raise PlatformError("the controller leader's site is unknown (no controller status)")
    return step.model_copy(update=dict.fromkeys(fields, leader))


def steady_state_row(violations: Sequence[str]) -> ExpectationResult:
    """The report row for the steady state after the method."""
    return ExpectationResult("steady_state_after", [], list(violations), not violations)


def serving_at_end_row(
    attempts: Sequence[Attempt], units: Sequence[str], load_end: float
) -> ExpectationResult:
    """The report row stating every unit the load touches acknowledged a write in the last
    :data:`END_WINDOW_SECONDS` of the load (or, untouched then, on its last attempt before:
    :func:`~drills.attempt_stats.units_not_serving`): a drill in which the system ends up not
    serving (or never served) cannot pass, fault or no fault."""
    missing = units_not_serving(attempts, units, load_end - END_WINDOW_SECONDS, load_end)
    return ExpectationResult("units_not_serving_at_end", [], missing, not missing)


def rollbacks_row(actions: Sequence[ExecutedAction]) -> ExpectationResult:
    """The report row stating every rollback succeeded (else the topology may be broken)."""
    failed = [a.command for a in actions if a.phase == "rollback" and not a.ok]
    return ExpectationResult("rollbacks_succeeded", [], failed, not failed)


@dataclass
class DrillRun:
    """One run of ``spec`` on ``platform``; call :meth:`run` once."""

    spec: DrillSpec
    platform: DrillPlatform
    interrupt: asyncio.Event = field(default_factory=asyncio.Event)
    progress: ProgressSink = field(default_factory=NullProgress)
    options: RunOptions = RunOptions()
    clock: Clock = time.monotonic
    wall: Callable[[], float] = time.time
    actions: list[ExecutedAction] = field(default_factory=list)
    events: list[ControllerEvent] = field(default_factory=list)
    client: httpx.AsyncClient | None = None
    abort_reason: str = ""
    phase: str = "starting"

    def __post_init__(self) -> None:
        self.started_at = self.clock()
        self.wall_started_at = self.wall()
        self.run_id = f"d{secrets.token_hex(3)}"
        self.halt = asyncio.Event()
        self.leader: str | None = None
        # The load and the read-back go over the lean keep-alive client; a test's client
        # (a fake router) carries everything.
        self.writes: RouterTransport = (
            HttpxTransport(self.client) if self.client
            else KeepAliveTransport(self.spec.load.request_timeout_seconds)
        )  # fmt: skip
        self.reads: RouterTransport = (
            HttpxTransport(self.client) if self.client
            else KeepAliveTransport(READ_BACK_TIMEOUT_SECONDS)
        )  # fmt: skip
        self.load = LoadGenerator(
            self.spec.load, self.platform.router_url, self.platform.topology, self.writes,
            self.clock, self.started_at, self.run_id, seed=self.options.seed,
            retry_for_seconds=self.options.retry_for_seconds,
        )  # fmt: skip
        self.units = units_of(self.platform.topology, self.spec.load, self.run_id)
        self.read_backs: list[ReadBack] = []
        self.steady_after: list[str] = []
        self.notes = Announcer(self.platform, self.spec.title)

    def now(self) -> float:
        return self.clock() - self.started_at

    @property
    def attempts(self) -> list[Attempt]:
        return self.load.attempts

    # -- the run ------------------------------------------------------------------------

    async def warm_up(self) -> None:
        """Send the spec's load to warm-up customers until the steady state has held for a
        whole window on every tick (or ``warm_up_seconds`` pass). A platform that just
        started is cold (first connections, first journal writes, controllers settling)
        and would fail the steady-state check for reasons that have nothing to do with
        the drill. Warm-up writes are never part of the report."""
        probes = self.spec.steady_state
        if not probes or self.options.warm_up_seconds <= 0:
            return
        self.phase = "warm-up"
        load = self.spec.load.model_copy(update={"duration_seconds": self.options.warm_up_seconds})
        started = self.clock()
        warm = LoadGenerator(
            load, self.platform.router_url, self.platform.topology, self.writes, self.clock,
            started, f"{self.run_id}w", seed=self.options.seed, retry_for_seconds=0.0,
        )  # fmt: skip
        stop = asyncio.Event()
        task = asyncio.create_task(warm.run(stop))
        window = max(p.window_seconds for p in probes)
        units = units_of(self.platform.topology, load, warm.run_id)
        steady, steady_since = False, None
        while not task.done() and not steady:
            await asyncio.sleep(self.options.tick_seconds)
            now = self.clock() - started
            holds = now >= window and not steady_state_violations(probes, warm.attempts, now, units)
            # One good window right after start-up proved too little on 2 cores: the
            # platform can still stall a unit for seconds. Ask for a second window in a
            # row without a violation on any tick.
            steady_since = (steady_since if steady_since is not None else now) if holds else None
            steady = steady_since is not None and now - steady_since >= window
        stop.set()
        await asyncio.gather(task, return_exceptions=True)
        took = self.clock() - started
        self.progress.note(
            f"warm-up: steady after {took:.1f} s" if steady
            else f"warm-up: not steady after {took:.1f} s; the steady-state check decides"
        )  # fmt: skip

    async def run(self) -> Report:
        """Run the drill and return its report (not yet written). The drill clock
        starts here (after :meth:`warm_up`)."""
        await self.warm_up()
        self.started_at = self.load.started_at = self.clock()
        self.wall_started_at = self.wall()
        load_task = asyncio.create_task(self.load.run(self.halt))
        watch_task = asyncio.create_task(self._watch())
        self.notes.say(f"started ({self.run_id}, {self.spec.load.rate_per_second:g} writes/s)")
        try:
            await self._method()
            self.phase = "load"
            await self._until_done(load_task)
            if not self.halt.is_set() and self.spec.steady_state:
                self.steady_after = steady_state_violations(
                    self.spec.steady_state, self.attempts, self.spec.load.duration_seconds,
                    self.units,
                )  # fmt: skip
        except DrillAbortError as exc:
            self._abort(str(exc))
        except BaseException as exc:  # rollbacks must run, then re-raise
            self._abort(f"runner error: {type(exc).__name__}: {exc}")
            await self._finish(load_task, watch_task)
            raise
        await self._finish(load_task, watch_task)
        return self._report()

    async def _finish(self, load_task: asyncio.Task[None], watch_task: asyncio.Task[None]) -> None:
        if self.abort_reason:
            self.halt.set()
        await asyncio.gather(load_task, return_exceptions=True)
        watch_task.cancel()
        await asyncio.gather(watch_task, return_exceptions=True)
        self.phase = "rollback"
        for step in self.spec.rollbacks:
            await self._execute(step, "rollback")
        self.phase = "read-back"
        self.progress.note(f"reading back {len(self.load.acknowledged)} acknowledged writes")
        self.read_backs = await read_back(
            self.reads, self.platform.router_url, self.load.acknowledged,
            clock=self.clock, settle_seconds=self.options.settle_seconds,
        )  # fmt: skip
        await self._poll_events()
        self.notes.say(f"finished ({self.abort_reason or 'ran to its end'})")
        await self.notes.settle()
        await self.writes.aclose()
        await self.reads.aclose()
        self.progress.close()

    def _abort(self, reason: str) -> None:
        if not self.abort_reason:
            self.abort_reason = reason
            self.progress.note(f"aborting: {reason}")
        self.halt.set()

    async def _until_done(self, task: asyncio.Task[None]) -> None:
        halted = asyncio.ensure_future(self.halt.wait())
        try:
            await asyncio.wait({task, halted}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            halted.cancel()
        if self.abort_reason:
            raise DrillAbortError(self.abort_reason)

    # -- method -------------------------------------------------------------------------

    async def _method(self) -> None:
        for i, step in enumerate(self.spec.method):
            await self._sleep_until(step.at or 0.0)
            if i == 0:
                self._check_steady_state_before()
                self.phase = "method"
            done = await self._execute(step, "method")
            if not done.ok:
                raise DrillAbortError(f"method step `{done.command}` failed: {done.detail}")

    def _check_steady_state_before(self) -> None:
        self.phase = "steady-state"
        problems = steady_state_violations(
            self.spec.steady_state, self.attempts, self.now(), self.units
        )
        if problems:
            raise DrillAbortError("steady state not met before the method: " + "; ".join(problems))

    async def _sleep_until(self, at: float) -> None:
        delay = at - self.now()
        if delay > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.halt.wait(), delay)
        if self.halt.is_set():
            raise DrillAbortError(self.abort_reason or "halted")

    async def _execute(self, step: Step, phase: str) -> ExecutedAction:
        started = self.now()
        command = step.describe()
        effect: float | None = None
        try:
            if phase == "method" and names_leader(step):
                self.leader = self.leader or await self.platform.leader_site()
            if phase == "rollback" and self.leader is None and names_leader(step):
                detail, ok = "skipped: $leader was never resolved, nothing was done to it", True
            else:
                step = resolve_leader(step, self.leader)
                command = step.describe()
                detail, effect = await self._do(step)
                ok = True
        except (PlatformError, DrillAbortError) as exc:
            detail, ok = str(exc), False
        done = ExecutedAction(
            action=step.name, command=command, started_at=started, finished_at=self.now(),
            phase="rollback" if phase == "rollback" else "method", ok=ok, detail=detail,
            took_effect_at=effect,
        )  # fmt: skip
        self.actions.append(done)
        self.progress.action(done)
        self.notes.step(done)
        return done

    async def _do(self, step: Step) -> tuple[str, float | None]:
        """Carry out one step: its sentence and, for a fault whose platform says when it
        took effect, that time on the drill clock."""
        if isinstance(step, WaitUntil):
            return await self._wait_until(step), None
        if isinstance(step, Switchover | Failover | Failback | Approve | DeclareDisaster):
            return await self.platform.operate(step), None
        done = await self.platform.fault(step.describe())
        if done.took_effect_at is None:
            return done.sentence, None
        return done.sentence, done.took_effect_at - self.wall_started_at

    async def _wait_until(self, step: WaitUntil) -> str:
        deadline = self.now() + step.timeout_seconds
        while self.now() < deadline:
            if await self._holds(step):
                return f"held after {step.timeout_seconds - (deadline - self.now()):.1f} s"
            if self.halt.is_set():
                raise DrillAbortError(self.abort_reason)
            await asyncio.sleep(self.options.wait_poll_seconds)
        raise DrillAbortError(f"{step.condition} did not hold within {step.timeout_seconds:g} s")

    async def _holds(self, step: WaitUntil) -> bool:
        if step.condition == "all-units-serving":
            probe = AllUnitsServingProbe(
                probe="all-units-serving", window_seconds=SERVING_WINDOW_SECONDS
            )
            return not steady_state_violations([probe], self.attempts, self.now(), self.units)
        return await self.platform.holds(step.condition, step.site)

    # -- watcher ------------------------------------------------------------------------

    async def _watch(self) -> None:
        """Guard rails, interrupt and progress every tick; controller events beside."""
        poller = asyncio.create_task(self._poll_events_forever())
        try:
            while True:
                if self.interrupt.is_set():
                    self._abort("interrupted (SIGINT): rolling back")
                reason = tripped_guard(self.spec.abort_if, self.attempts, self.now())
                if reason and not self.halt.is_set():
                    self._abort(f"guard rail: {reason}")
                self.progress.update(self.snapshot())
                await asyncio.sleep(self.options.tick_seconds)
        finally:
            poller.cancel()

    async def _poll_events_forever(self) -> None:
        while True:
            await self._poll_events()
            await asyncio.sleep(self.options.events_every_seconds)

    async def _poll_events(self) -> None:
        try:
            fresh = await self.platform.events(self.wall_started_at)
        except (PlatformError, ValueError):
            return
        # Each poll lists again what the last one did, and a controller unreachable now
        # may have listed a promotion another has since recorded again: one merge rule.
        self.events = merge_events(self.events, fresh)

    def snapshot(self) -> Snapshot:
        now = self.now()
        recent = window(self.attempts, now - 2.0, now)
        rate = error_rate(recent)
        ok = sum(1 for a in self.attempts if a.ok)
        return Snapshot(
            phase=self.phase, elapsed=now, duration=self.spec.load.duration_seconds,
            sent=len(self.attempts), ok=ok, failed=len(self.attempts) - ok,
            recent_success=None if rate is None else 1.0 - rate,
        )  # fmt: skip

    # -- report -------------------------------------------------------------------------

    def _report(self) -> Report:
        m = measure(
            self.attempts, self.read_backs, self.actions, self.events,
            expects_no_failover=self.spec.expect.expects_no_failover,
            drain_window_seconds=self.spec.expect.drain_window_seconds,
            retries_refused=self.load.retries_refused,
        )  # fmt: skip
        extra = [rollbacks_row(self.actions)]
        # An aborted drill stopped its load early: "nothing served at the end" would be
        # about the abort, not the system; the verdict already says aborted.
        if self.spec.expect.all_units_recover and not self.abort_reason:
            end = self.spec.load.duration_seconds
            extra.insert(0, serving_at_end_row(self.attempts, self.units, end))
        if self.spec.steady_state and not self.abort_reason:
            extra.insert(0, steady_state_row(self.steady_after))
        started = datetime.fromtimestamp(self.wall_started_at, UTC).isoformat(timespec="seconds")
        return build_report(
            self.spec, m, self.actions, self.events, platform=self.platform.name,
            started_at=started, duration_seconds=self.now(), abort_reason=self.abort_reason,
            extra=extra,
        )  # fmt: skip


def names_leader(step: Step) -> bool:
    """Whether a step names ``$leader`` in one of its site fields."""
    return any(getattr(step, f, None) == LEADER_SITE for f in SITE_FIELDS)


def write_evidence(run: DrillRun, directory: Path) -> None:
    """``attempts.jsonl`` and ``readbacks.jsonl``: the raw evidence, to measure again."""
    directory.mkdir(parents=True, exist_ok=True)
    _jsonl(directory / "attempts.jsonl", [a.to_json() for a in run.attempts])
    _jsonl(directory / "readbacks.jsonl", [rb.to_json() for rb in run.read_backs])


def _jsonl(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in rows), encoding="utf-8")


async def run_and_write(run: DrillRun, report_dir: Path | None) -> Report:
    """Run, then write the report and the evidence into ``report_dir`` (if given)."""
    report = await run.run()
    if report_dir is not None:
        write_report(report, report_dir)
        write_evidence(run, report_dir)
    return report
