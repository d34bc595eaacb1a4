"""Reading the controller's API leniently: events on the drill clock, leader, verdicts."""

from __future__ import annotations

from drills.controller import (
    leader_site,
    merge_events,
    normalize_kind,
    parse_events,
    pending_approvals,
    site_verdict,
)
from drills.measure import ControllerEvent

SITES = ("production", "same-city", "remote-dr")


def test_controller_kinds_map_to_the_two_kinds_measurements_read() -> None:
    assert normalize_kind("site_declared_down") == "site-down"
    assert normalize_kind("Site-Down") == "site-down"
    assert normalize_kind("unit_promoted") == "promoted"
    assert normalize_kind("approval_requested") == "approval-requested"


def test_event_times_are_converted_to_seconds_since_the_drill_start() -> None:
    payload = {
        "events": [
            {"kind": "site_down", "at": 1_700_000_010.5, "site": "production"},
            {
                "kind": "promoted",
                "time": "2023-11-14T22:13:34Z",
                "unit": "u02",
                "new_epoch": 2,
                "to_site": "same-city",
            },
            {"kind": "promoted", "timestamp": 1_700_000_014_000, "unit": "u04", "epoch": 3},
        ]
    }
    events = parse_events(payload, wall_started_at=1_700_000_000.0)
    assert events == [
        ControllerEvent(at=10.5, kind="site-down", site="production"),
        ControllerEvent(at=14.0, kind="promoted", site="same-city", unit="u02", epoch=2),
        ControllerEvent(at=14.0, kind="promoted", unit="u04", epoch=3),
    ]


def test_events_without_a_kind_or_a_time_are_dropped() -> None:
    assert parse_events([{"kind": "promoted"}, {"at": 5.0}, "junk"], wall_started_at=0) == []
    assert parse_events({"unexpected": True}, wall_started_at=0) == []


def test_the_same_event_from_two_controllers_counts_once() -> None:
    a = ControllerEvent(at=1.0, kind="promoted", unit="u00", epoch=2)
    b = ControllerEvent(at=0.5, kind="site-down", site="production")
    assert merge_events([a, b], [a]) == [b, a]


def test_the_leader_site_is_found_in_the_shapes_a_status_may_take() -> None:
    assert leader_site({"leader": "same-city"}, SITES) == "same-city"
    assert leader_site({"leader": {"site": "remote-dr", "id": "c-2"}}, SITES) == "remote-dr"
    assert leader_site({"leader": "controller-production-1"}, SITES) == "production"
    assert leader_site({"leader": None}, SITES) is None


def test_site_verdicts_and_pending_approvals_are_read_from_the_status() -> None:
    status = {
        "sites": {"production": {"verdict": "DOWN"}, "same-city": "up"},
        "pending_approvals": [{"id": "a1", "unit": "u00"}, {"id": "a2", "state": "approved"}],
    }
    assert site_verdict(status, "production") == "down"
    assert site_verdict(status, "same-city") == "up"
    assert site_verdict(status, "remote-dr") is None
    assert [p["id"] for p in pending_approvals(status)] == ["a1"]
    listed = {"sites": [{"name": "remote-dr", "state": "up"}]}
    assert site_verdict(listed, "remote-dr") == "up"
