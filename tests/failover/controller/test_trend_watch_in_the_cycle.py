"""The controller's trend watch: every cycle feeds it the routed instances' traffic; a
warning is an event, a metric and a line of the status — and never an action."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from fastapi.testclient import TestClient
from harness import World
from prometheus_client.parser import text_string_to_metric_families

from app.traffic import TrafficCounters
from failover.controller.api import create_app
from failover.topology import default_topology
from failover.trend_settings import TrendSettings

#: Short windows so a test runs in a few hundred simulated seconds.
QUICK = replace(
    default_topology(),
    trends=TrendSettings(
        baseline_half_life_seconds=60, current_half_life_seconds=3, warmup_seconds=30,
        hold_seconds=10,
    ),
)  # fmt: skip


def with_traffic(world: World) -> None:
    """Every unit's primary counts its writes on the world's clock."""
    for unit in world.topology.units:
        site = world.route(unit)[0]
        world.units.traffic[unit, site] = TrafficCounters(clock=world.clock)


def write_for(world: World, seconds: int, declining: str | None = None) -> list[str]:
    """``seconds`` cycles of 10 writes/s per unit (5 % declined; 60 % for ``declining``)."""
    summaries = []
    for _ in range(seconds):
        for unit in world.topology.units:
            counters = world.units.traffic[unit, world.route(unit)[0]]
            declined = 6 if unit == declining else int(world.clock.now) % 2
            for i in range(10):
                counters.record("purchase", "declined" if i < declined else "approved", 0.02)
        summaries.append(world.cycle())
    return summaries


def trend_series(world: World) -> dict[tuple[str, str, str], float]:
    text = TestClient(create_app(world.runtime)).get("/metrics").text
    return {
        (s.labels["kind"], s.labels["site"], s.labels["unit"]): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "watertight_trend_warning"
    }


def test_a_declining_unit_is_recorded_exported_and_shown_then_cleared(tmp_path: Path) -> None:
    world = World(tmp_path, topology=QUICK)
    with_traffic(world)
    write_for(world, 60)
    assert "trend_warning" not in world.kinds()
    write_for(world, 25, declining="u03")
    warnings = [e for e in world.runtime.records.events() if e.kind == "trend_warning"]
    assert [(e.unit, e.data["trend"]) for e in warnings if e.unit] == [("u03", "decline_ratio")]
    unit_warning = next(e for e in warnings if e.unit == "u03")
    assert unit_warning.site == world.route("u03")[0]
    assert unit_warning.summary.startswith("u03: decline ratio")
    assert trend_series(world)[("decline_ratio", world.route("u03")[0], "u03")] == 1
    status = TestClient(create_app(world.runtime)).get("/v1/status").json()
    assert [(w["unit"], w["kind"]) for w in status["trend_warnings"] if w["unit"]] == [
        ("u03", "decline_ratio")
    ]
    write_for(world, 20)
    cleared = [e for e in world.runtime.records.events() if e.kind == "trend_cleared"]
    assert [(e.unit, e.data["trend"]) for e in cleared if e.unit] == [("u03", "decline_ratio")]
    assert trend_series(world) == {}


def test_a_trend_warning_never_changes_what_the_controller_decides(tmp_path: Path) -> None:
    (tmp_path / "calm").mkdir()
    (tmp_path / "warned").mkdir()
    calm = World(tmp_path / "calm", topology=QUICK)
    warned = World(tmp_path / "warned", topology=QUICK)
    for world in (calm, warned):
        with_traffic(world)
    calm_says = write_for(calm, 60) + write_for(calm, 40)
    warned_says = write_for(warned, 60) + write_for(warned, 40, declining="u03")
    assert "trend_warning" in warned.kinds()
    assert warned_says == calm_says
    assert [e.kind for e in warned.runtime.records.events() if e.kind.startswith("trend")] != []
    without = [k for k in warned.kinds() if not k.startswith("trend")]
    assert without == calm.kinds()
    assert warned.log == calm.log == []
