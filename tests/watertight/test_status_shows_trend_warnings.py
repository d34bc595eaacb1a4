"""``watertight status`` prints the leader's standing trend warnings, saying they move nothing."""

from __future__ import annotations

from rich.console import Console

from watertight.status import render_status


def test_status_prints_each_trend_warning_with_its_reason_and_that_nothing_moves() -> None:
    report = {
        "router_url": "http://127.0.0.1:1",
        "state_dir": "/tmp/x",
        "controller": {"summary": "no action: 3/3 sites healthy"},
        "sites": {},
        "site_verdicts": {},
        "routes_error": None,
        "routes": {},
        "units": {},
        "trend_warnings": [
            {
                "unit": "u03",
                "site": "same-city",
                "kind": "decline_ratio",
                "reason": "u03: decline ratio 0.62 vs baseline 0.05 for 30 s",
                "for_seconds": 41.2,
            }
        ],
    }
    console = Console(record=True, width=200)
    render_status(report, console)
    text = console.export_text()
    assert "trend warning decline_ratio: u03: decline ratio 0.62 vs baseline 0.05 for 30 s" in text
    assert "(for 41 s; nothing moves on it)" in text
