"""The console view (failover.console.view): pure, fed with hand-made status objects."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from failover.console.view import TIMELINE_LENGTH, History, build_view, largest_lag
from failover.events import Event
from failover.topology import load_topology

TOPOLOGY = load_topology(Path(__file__).resolve().parents[3] / "topology.yaml")


def event(i: int, kind: str = "decision") -> Event:
    return Event(id=i, at=1000.0 + i, controller="remote-dr", kind=kind, unit=None,
                 site=None, summary=f"event {i}", data={})  # fmt: skip


def status_after_production_failed() -> dict[str, Any]:
    units = {
        u: {"primary_site": "same-city", "epoch": 2 if int(u[1:]) % 2 == 0 else 1,
            "standbys": {"remote-dr": {"site": "remote-dr", "lag_entries": 3, "healthy": True}},
            "durable_lsn": 10, "acknowledged_lsn": 10}
        for u in TOPOLOGY.units
    }  # fmt: skip
    return {
        "controller": "remote-dr", "leader": "remote-dr", "is_leader": True,
        "leader_url": "http://x", "summary": "failing over", "frozen": False,
        "sites": {"production": {"state": "down", "reason": "2/3 saw it down", "observers": {}},
                  "same-city": {"state": "up", "reason": "", "observers": {}}},
        "units": units,
        "approvals": [],
        "trend_warnings": [
            {"unit": "u01", "site": "same-city", "kind": "p99", "reason": "slow", "for_seconds": 3},
            {"unit": None, "site": "same-city", "kind": "p99", "reason": "site slow",
             "for_seconds": 3},
        ],
    }  # fmt: skip


def test_the_view_shows_every_site_with_its_verdict_and_unknown_before_any() -> None:
    view = build_view(status_after_production_failed(), TOPOLOGY, [], History(), 5.0)
    states = {s["name"]: s["state"] for s in view["sites"]}
    assert states == {"production": "down", "same-city": "up", "remote-dr": "unknown"}


def test_a_unit_whose_route_left_its_placement_is_marked_moved_with_its_new_standbys() -> None:
    view = build_view(status_after_production_failed(), TOPOLOGY, [], History(), 5.0)
    u00 = next(u for u in view["units"] if u["name"] == "u00")
    u01 = next(u for u in view["units"] if u["name"] == "u01")
    assert (u00["primary_site"], u00["epoch"], u00["moved"]) == ("same-city", 2, True)
    assert u01["moved"] is False
    assert [s["site"] for s in u00["standbys"]] == ["production", "remote-dr"]
    assert u00["standbys"][1]["lag_entries"] == 3
    assert u00["standbys"][0]["lag_entries"] is None


def test_trend_warnings_go_to_their_unit_and_site_wide_ones_apart() -> None:
    view = build_view(status_after_production_failed(), TOPOLOGY, [], History(), 5.0)
    u01 = next(u for u in view["units"] if u["name"] == "u01")
    assert [w["reason"] for w in u01["warnings"]] == ["slow"]
    assert [w["reason"] for w in view["site_warnings"]] == ["site slow"]


def test_the_timeline_keeps_the_newest_events_newest_first() -> None:
    events = [event(i) for i in range(1, TIMELINE_LENGTH + 11)]
    view = build_view({}, TOPOLOGY, events, History(), 5.0)
    ids = [e["id"] for e in view["timeline"]]
    assert ids == list(range(TIMELINE_LENGTH + 10, 10, -1))


def test_a_controller_before_its_first_cycle_gives_a_view_with_nothing_known() -> None:
    view = build_view({"controller": "production"}, TOPOLOGY, [], History(), 5.0)
    assert all(u["primary_site"] is None and u["standbys"] == [] for u in view["units"])
    assert view["leader"] is None and view["is_leader"] is False


def test_the_history_takes_one_reading_per_cycle_and_keeps_the_last_points() -> None:
    history = History(points=3)
    for cycle in range(5):
        history.add(cycle, {"u00": float(cycle)}, {"u00": None})
    assert not history.add(4, {"u00": 99.0}, {"u00": 99.0})
    assert history.sparklines("u00") == {
        "writes_per_second": [2.0, 3.0, 4.0], "lag_entries": [None, None, None]
    }  # fmt: skip
    assert history.sparklines("u07") == {"writes_per_second": [], "lag_entries": []}


def test_the_largest_lag_ignores_standbys_that_report_none() -> None:
    unit = {"standbys": {"a": {"lag_entries": None}, "b": {"lag_entries": 7}}}
    assert largest_lag(unit) == 7.0
    assert largest_lag({"standbys": {}}) is None
