"""The controller's gauges: what the alerts in monitoring/prometheus read."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from harness import World
from prometheus_client.parser import text_string_to_metric_families

from failover.controller.api import create_app


def scrape(world: World) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = TestClient(create_app(world.runtime)).get("/metrics").text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return samples[name, frozenset(labels.items())]


def test_a_site_outage_shows_as_a_down_verdict_and_moved_primaries_leave_no_stale_series(
    world: World,
) -> None:
    world.cycle()
    before = scrape(world)
    assert value(before, "watertight_controller_site_verdict", site="production", state="up") == 1
    assert (
        value(before, "watertight_controller_unit_primary_site", unit="u00", site="production") == 1
    )
    assert value(before, "watertight_controller_unit_writable_primary", unit="u00") == 1
    world.units.down.add("production")
    world.drop_leases_in("production")
    for _ in range(5):
        world.cycle()
    after = scrape(world)
    assert value(after, "watertight_controller_site_verdict", site="production", state="down") == 1
    assert value(after, "watertight_controller_site_verdict", site="production", state="up") == 0
    site, epoch = world.route("u00")
    assert site != "production"
    assert value(after, "watertight_controller_unit_primary_site", unit="u00", site=site) == 1
    assert (
        value(after, "watertight_controller_unit_primary_site", unit="u00", site="production") == 0
    )
    assert value(after, "watertight_controller_unit_epoch", unit="u00") == epoch
    assert value(after, "watertight_controller_unit_writable_primary", unit="u00") == 1
    assert not any(
        name == "watertight_controller_unit_epoch" and dict(labels).get("site")
        for name, labels in after
    )


def test_a_unit_whose_routed_primary_answers_nothing_has_no_writable_primary(world: World) -> None:
    world.cycle()
    world.units.crashed.add(("u03", world.route("u03")[0]))
    world.cycle()
    samples = scrape(world)
    assert value(samples, "watertight_controller_unit_writable_primary", unit="u03") == 0
    assert value(samples, "watertight_controller_unit_writable_primary", unit="u00") == 1


def test_freezing_shows_in_the_frozen_gauge(world: World) -> None:
    world.cycle()
    assert value(scrape(world), "watertight_controller_frozen") == 0
    world.runtime.state.freeze("test", "tester")
    world.cycle()
    assert value(scrape(world), "watertight_controller_frozen") == 1


def test_losing_both_city_a_sites_counts_the_approvals_waiting_for_a_person(
    tmp_path: Path,
) -> None:
    world = World(tmp_path, site="remote-dr")
    world.cycle()
    assert value(scrape(world), "watertight_controller_pending_approvals") == 0
    for site in ("production", "same-city"):
        world.units.down.add(site)
        world.drop_leases_in(site)
    for _ in range(4):
        world.cycle()
    assert value(scrape(world), "watertight_controller_pending_approvals") == len(
        world.topology.units
    )


def test_the_controller_exports_process_metrics(world: World) -> None:
    world.cycle()
    names = {name for name, _ in scrape(world)}
    assert {"process_cpu_seconds_total", "process_resident_memory_bytes"} <= names
