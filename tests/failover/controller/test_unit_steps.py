"""UnitSteps: each unit's steps on their own thread, never two at once for one unit."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import pytest

from failover.actions import Action, DemoteInstance
from failover.controller.unit_steps import UnitSteps
from failover.errors import NotLeader


def demote(unit: str) -> DemoteInstance:
    return DemoteInstance(unit=unit, site="production", epoch=1, reason="test")


def test_a_woken_run_leaves_a_slow_unit_running_and_the_next_run_holds_it() -> None:
    steps, gate, woken = UnitSteps(), threading.Event(), threading.Event()
    started: list[str] = []

    def run_steps(actions: Sequence[Action]) -> list[str]:
        unit = actions[0].unit
        started.append(unit)
        if unit == "u04":
            woken.set()  # news arrives while u04 is still acting
            assert gate.wait(10)
        return [f"done {unit}"]

    first = steps.run({"u04": [demote("u04")]}, run_steps, woken)
    assert first.left_running == ("u04",)
    assert first.note() == "; woken with u04 still acting: left running"
    assert steps.acting() == {"u04"}
    second = steps.run({"u04": [demote("u04")], "u00": [demote("u00")]}, run_steps)
    assert second.held == ("u04",)
    assert second.note() == "; held back u04: steps of an earlier cycle still running"
    assert second.outcomes == ("done u00",)
    assert started == ["u04", "u00"]  # u04's steps were not started a second time
    gate.set()
    steps.join()
    assert steps.acting() == frozenset()


def test_without_a_wake_a_run_waits_for_every_unit_and_re_raises_not_leader() -> None:
    steps = UnitSteps()

    def run_steps(actions: Sequence[Action]) -> list[str]:
        if actions[0].unit == "u02":
            raise NotLeader("same-city", None)
        return [f"done {actions[0].unit}"]

    with pytest.raises(NotLeader):
        steps.run({"u00": [demote("u00")], "u02": [demote("u02")]}, run_steps)
    assert steps.acting() == frozenset()
    ran = steps.run({"u00": [demote("u00")], "u06": [demote("u06")]}, run_steps)
    assert sorted(ran.outcomes) == ["done u00", "done u06"]
    assert ran.held == () and ran.left_running == () and ran.note() == ""


def test_a_step_that_loses_the_lease_while_waited_for_is_reported_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The run re-raises it (the cycle says it stopped); the steps' own log stays quiet.
    Left running, the same end has nobody to report it, so it is logged."""
    steps, gate, woken = UnitSteps(), threading.Event(), threading.Event()

    def run_steps(actions: Sequence[Action]) -> list[str]:
        if actions[0].unit == "u04":
            woken.set()
            assert gate.wait(10)
        raise NotLeader("same-city", None)

    with caplog.at_level("WARNING", logger="failover.controller"):
        with pytest.raises(NotLeader):
            steps.run({"u02": [demote("u02")]}, run_steps)
        assert [r.getMessage() for r in caplog.records] == []
        assert steps.run({"u04": [demote("u04")]}, run_steps, woken).left_running == ("u04",)
        gate.set()
        steps.join()
        deadline = time.monotonic() + 5  # the done callback may log just after join
        while not caplog.records and time.monotonic() < deadline:
            time.sleep(0.01)
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 1
    assert messages[0].startswith("steps of u04 stopped: controller same-city is not the leader")
