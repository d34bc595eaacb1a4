"""The runner against a fake platform and a fake router (in-process, about a second each).

The fake router answers like docs/design.md §5 (201 with site and epoch, 503 + Retry-After while a
unit's site is down, 200/404 on read); the fake platform records what it was asked to do.
These tests pin the experiment's shape: steady state before the method, the method on
schedule, rollbacks always (failed step, interrupt, unmet steady state), then read-back.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from drills.controller_event import ControllerEvent
from drills.platform import FaultDone, Operation, PlatformError
from drills.report_json import Report
from drills.runner import DrillRun, RunOptions, resolve_leader
from drills.spec import parse_spec
from drills.steps import SiteDown
from failover.topology import Topology, default_topology

TOPOLOGY = default_topology()
OPTIONS = RunOptions(
    tick_seconds=0.05, settle_seconds=1.0, retry_for_seconds=0.5, warm_up_seconds=1.0
)


@dataclass
class FakeRouter:
    """docs/design.md §5's router, in memory: units of a downed site answer 503."""

    topology: Topology
    down_sites: set[str] = field(default_factory=set)
    forget: bool = False
    stored: dict[str, dict[str, Any]] = field(default_factory=dict)

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        parts = request.url.path.strip("/").split("/")
        customer = parts[2]
        unit = self.topology.unit_of(customer)
        site = self.topology.placement(unit).primary
        if request.method == "GET":
            found = self.stored.get(parts[4])
            return httpx.Response(404 if found is None or self.forget else 200, json=found)
        if site in self.down_sites:
            return httpx.Response(
                503, json={"error": "unavailable"}, headers={"Retry-After": "0.1"}
            )
        body = json.loads(request.content)
        tid = f"t-{request.headers['Idempotency-Key']}"
        self.stored[tid] = {"transaction_id": tid, "customer_id": customer, **body}
        answer = {"transaction_id": tid, "customer_id": customer, "unit": unit, "site": site,
                  "epoch": 1, "lsn": len(self.stored), "status": "approved"}  # fmt: skip
        return httpx.Response(201, json=answer)


@dataclass
class FakePlatform:
    router: FakeRouter
    fail: set[str] = field(default_factory=set)
    done: list[str] = field(default_factory=list)
    name: str = "fake"
    router_url: str = "http://router.test"
    topology: Topology = TOPOLOGY

    async def fault(self, command: str) -> FaultDone:
        if command in self.fail:
            raise PlatformError(f"{command}: refused")
        self.done.append(command)
        verb, *rest = command.split()
        if verb == "site-down":
            self.router.down_sites.update(rest)
        if verb == "site-up":
            self.router.down_sites.discard(rest[0])
        return FaultDone(f"did {command}")

    operated: list[str] = field(default_factory=list)

    async def operate(self, step: Operation) -> str:
        self.done.append(step.describe())
        self.operated.append(step.name)
        return "ok"

    async def events(self, wall_started_at: float) -> list[ControllerEvent]:
        return []

    async def leader_site(self) -> str | None:
        return "same-city"

    notes: list[tuple[str, str]] = field(default_factory=list)

    async def announce(self, drill: str, note: str) -> None:
        self.notes.append((drill, note))

    async def holds(self, condition: str, site: str | None) -> bool:
        return False


def spec(**overrides: Any) -> Any:
    document = {
        "name": "fake-drill",
        "title": "A drill on a fake platform",
        "load": {
            "rate_per_second": 60,
            "customers": 40,
            "duration_seconds": 1.5,
            "mix": {"purchase": 1.0},
        },
        "method": [
            {"at": 0.5, "action": "site-down", "site": "production"},
            {"at": 0.9, "action": "site-up", "site": "production"},
        ],
        "rollbacks": [{"action": "site-up", "site": "production"}, {"action": "heal"}],
        **overrides,
    }
    return parse_spec(document, topology=TOPOLOGY)


def run(
    drill: Any,
    platform: FakePlatform,
    interrupt_at: float | None = None,
    options: RunOptions = OPTIONS,
) -> Report:
    async def main() -> Report:
        client = httpx.AsyncClient(transport=httpx.MockTransport(platform.router))
        runner = DrillRun(drill, platform, options=options, client=client)
        if interrupt_at is not None:
            asyncio.get_running_loop().call_later(interrupt_at, runner.interrupt.set)
        return await runner.run()

    return asyncio.run(main())


def test_a_clean_run_passes_and_every_acknowledged_write_is_read_back() -> None:
    platform = FakePlatform(FakeRouter(TOPOLOGY))
    report = run(spec(), platform)
    assert report.verdict == "pass", report.expectations
    assert platform.done == ["site-down production", "site-up production",
                             "site-up production", "heal"]  # fmt: skip
    m = report.measurements
    assert m.rpo_lost_acknowledged == 0
    assert m.requests.failed > 0, "the outage was seen by clients"
    assert m.rto_by_unit and set(m.rto_by_unit) <= {"u00", "u02", "u04", "u06"}


def test_the_controllers_hear_of_every_step_from_start_to_finish_for_their_consoles() -> None:
    platform = FakePlatform(FakeRouter(TOPOLOGY))
    run(spec(), platform)
    drills, notes = zip(*platform.notes, strict=True)
    assert set(drills) == {"A drill on a fake platform"}
    assert notes[0].startswith("started (") and "60 writes/s" in notes[0]
    steps = list(notes[1:-1])
    assert [n.split(": ", 1)[1].split(" — ")[0] for n in steps] == platform.done
    assert steps[0].startswith("method at ") and "done: did site-down production" in steps[0]
    assert all(n.startswith("rollback at ") for n in steps[2:])
    assert notes[-1] == "finished (ran to its end)"


def test_a_failed_step_is_announced_as_failed_and_the_abort_in_the_last_note() -> None:
    platform = FakePlatform(FakeRouter(TOPOLOGY), fail={"site-up production"})
    run(spec(rollbacks=[{"action": "heal"}]), platform)
    notes = [note for _, note in platform.notes]
    assert any("site-up production — FAILED: site-up production: refused" in n for n in notes)
    assert notes[-1].startswith("finished (") and "site-up production" in notes[-1]


def test_a_declared_disaster_is_an_operator_step_that_does_not_start_the_rto_clock() -> None:
    platform = FakePlatform(FakeRouter(TOPOLOGY))
    method = [
        {"at": 0.5, "action": "site-down", "site": "production"},
        {"at": 0.7, "action": "declare-disaster", "survivor": "remote-dr"},
        {"at": 0.9, "action": "site-up", "site": "production"},
    ]
    report = run(spec(method=method), platform)
    assert platform.operated == ["declare-disaster"]
    assert "declare-disaster --survivor remote-dr" in platform.done
    declared = next(a for a in report.actions if a.command.startswith("declare-disaster"))
    assert declared.ok and declared.took_effect_at is None
    assert report.measurements.rto_by_unit  # from the site-down, not the declaration


def test_writes_the_system_cannot_read_back_are_counted_lost_and_fail_the_drill() -> None:
    report = run(spec(), FakePlatform(FakeRouter(TOPOLOGY, forget=True)))
    assert report.verdict == "fail"
    assert report.measurements.rpo_lost_acknowledged == report.measurements.requests.ok


def test_a_failed_method_step_aborts_the_drill_and_the_rollbacks_still_run() -> None:
    platform = FakePlatform(FakeRouter(TOPOLOGY), fail={"site-up production"})
    report = run(spec(rollbacks=[{"action": "heal"}]), platform)
    assert report.verdict == "aborted"
    assert "site-up production` failed" in report.abort_reason
    assert platform.done == ["site-down production", "heal"]


def test_an_interrupt_aborts_before_the_next_step_and_the_rollbacks_still_run() -> None:
    platform = FakePlatform(FakeRouter(TOPOLOGY))
    report = run(spec(), platform, interrupt_at=0.7)
    assert report.verdict == "aborted"
    assert report.abort_reason.startswith("interrupted")
    assert platform.done == ["site-down production", "site-up production", "heal"]
    assert [a.phase for a in report.actions] == ["method", "rollback", "rollback"]


def test_an_unmet_steady_state_stops_the_drill_before_it_breaks_anything() -> None:
    platform = FakePlatform(FakeRouter(TOPOLOGY, down_sites={"same-city"}))
    steady = [{"probe": "error-rate", "max": 0.01, "window_seconds": 0.4}]
    report = run(spec(steady_state=steady), platform)
    assert report.verdict == "aborted"
    assert "steady state not met" in report.abort_reason
    assert platform.done == ["site-up production", "heal"]
    assert "units_not_serving_at_end" not in {e.name for e in report.expectations}


@dataclass
class ColdRouter(FakeRouter):
    """Times out every write for its first ``cold_seconds`` (a platform just started)."""

    cold_seconds: float = 0.6
    started: float = field(default_factory=time.monotonic)

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and time.monotonic() - self.started < self.cold_seconds:
            return httpx.Response(503, json={"error": "cold"}, headers={"Retry-After": "0.05"})
        return await super().__call__(request)


def test_warm_up_waits_out_a_cold_platform_and_leaves_no_trace_in_the_report() -> None:
    platform = FakePlatform(ColdRouter(TOPOLOGY))
    steady = [{"probe": "error-rate", "max": 0.01, "window_seconds": 0.3}]
    report = run(spec(steady_state=steady), platform)
    assert report.verdict == "pass", report.abort_reason or report.expectations
    assert report.measurements.requests.ok == int(60 * 1.5)  # the drill's writes only


@dataclass
class HiccupRouter(FakeRouter):
    """Cold for its first 0.6 s, then fine, then refuses writes again for 1.2–1.5 s
    (a unit stalling once more shortly after start-up, as seen on 2 cores)."""

    started: float = field(default_factory=time.monotonic)

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        age = time.monotonic() - self.started
        if request.method == "POST" and (age < 0.6 or 1.2 <= age < 1.5):
            return httpx.Response(503, json={"error": "stall"}, headers={"Retry-After": "0.05"})
        return await super().__call__(request)


def test_warm_up_outlasts_a_second_stall_after_the_first_good_window() -> None:
    platform = FakePlatform(HiccupRouter(TOPOLOGY))
    steady = [{"probe": "error-rate", "max": 0.01, "window_seconds": 0.5}]
    options = RunOptions(
        tick_seconds=0.05, settle_seconds=1.0, retry_for_seconds=0.5, warm_up_seconds=4.0
    )
    report = run(spec(steady_state=steady), platform, options=options)
    assert report.verdict == "pass", report.abort_reason or report.expectations


def test_leader_is_resolved_once_and_used_by_the_rollbacks_too() -> None:
    platform = FakePlatform(FakeRouter(TOPOLOGY))
    drill = spec(
        method=[{"at": 0.3, "action": "site-down", "site": "$leader"},
                {"at": 0.8, "action": "site-up", "site": "$leader"}],
        rollbacks=[{"action": "site-up", "site": "$leader"}],
    )  # fmt: skip
    report = run(drill, platform)
    assert platform.done == ["site-down same-city", "site-up same-city", "site-up same-city"]
    assert next(a.command for a in report.actions) == "site-down same-city"


def test_an_unknown_leader_is_an_error_not_a_guess() -> None:
    step = SiteDown(action="site-down", site="$leader", at=1.0)
    with pytest.raises(PlatformError, match="leader"):
        resolve_leader(step, None)
    assert resolve_leader(step, "remote-dr").describe() == "site-down remote-dr"


def test_a_drill_in_which_nothing_was_acknowledged_cannot_pass() -> None:
    router = FakeRouter(TOPOLOGY, down_sites=set(TOPOLOGY.site_names))
    report = run(spec(method=[], rollbacks=[]), FakePlatform(router))
    assert report.measurements.requests.ok == 0
    assert report.verdict == "fail"
    row = next(e for e in report.expectations if e.name == "units_not_serving_at_end")
    assert not row.passed and row.observed
