"""``watertight events``: people read UTC times (ISO 8601), ``--json`` keeps the numbers."""

from __future__ import annotations

import json

from cli_helpers import fake_controller
from typer.testing import CliRunner

from watertight.cli import cli
from watertight.commands.control import utc_time

EVENT = {
    "id": 7, "at": 1_796_033_703.1234, "controller": "remote-dr", "kind": "site_down",
    "unit": None, "site": "production", "summary": "production down", "data": {},
}  # fmt: skip
PAGE = {"controller": "remote-dr", "events": [EVENT]}


def test_event_times_are_utc_iso_8601_to_the_millisecond() -> None:
    assert utc_time(1_796_033_703.1234) == "2026-11-30T10:15:03.123Z"
    assert utc_time(0) == "1970-01-01T00:00:00.000Z"


def test_the_human_listing_starts_each_line_with_its_utc_time() -> None:
    with fake_controller({"/v1/events": (200, PAGE)}) as url:
        result = CliRunner().invoke(cli, ["events", "--controller", url])
    assert result.exit_code == 0, result.output
    line = result.stdout.splitlines()[0]
    assert line.startswith("2026-11-30T10:15:03.123Z remote-dr ")
    assert line.endswith("site_down          production down")
    assert "1796033703" not in result.stdout


def test_the_json_listing_keeps_unix_seconds() -> None:
    with fake_controller({"/v1/events": (200, PAGE)}) as url:
        result = CliRunner().invoke(cli, ["events", "--controller", url, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["events"][0]["at"] == 1_796_033_703.1234
