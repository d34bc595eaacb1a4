"""Under ``--json`` every error is one JSON object on stdout, ``{"error", "detail"}``, with
the command's usual exit status; without it, ``error: ...`` on stderr as before."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import fake_controller
from typer.testing import CliRunner

from watertight.cli import cli, main

REFUSED = {"error": "unsafe_action", "detail": "same-city is not up"}
LEADER_STATUS = (200, {"is_leader": True})


def run(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args))


def json_error(stdout: str) -> dict[str, str]:
    body: dict[str, str] = json.loads(stdout)
    assert set(body) == {"error", "detail"}
    return body


def test_a_refusal_by_the_controller_is_json_with_its_code() -> None:
    answers = {"/v1/status": LEADER_STATUS, "/v1/switchover": (409, REFUSED)}
    with fake_controller(answers) as url:
        args = ["switchover", "--unit", "u00", "--to", "same-city", "--controller", url]
        result = run(*args, "--token", "t", "--json")
    assert result.exit_code == 1
    assert json_error(result.stdout) == REFUSED


def test_the_same_refusal_without_json_is_plain_text_on_stderr() -> None:
    answers = {"/v1/status": LEADER_STATUS, "/v1/switchover": (409, REFUSED)}
    with fake_controller(answers) as url:
        args = ["switchover", "--unit", "u00", "--to", "same-city", "--controller", url]
        result = run(*args, "--token", "t")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == "error: unsafe_action: same-city is not up\n"


def test_no_platform_in_the_state_dir_is_a_json_error(tmp_path: Path) -> None:
    result = run("status", "--state-dir", str(tmp_path / "none"), "--json")
    assert result.exit_code == 1
    assert json_error(result.stdout)["error"] == "failed"
    assert result.stderr == ""


def test_a_broken_topology_is_a_json_error(tmp_path: Path) -> None:
    broken = tmp_path / "t.yaml"
    broken.write_text("sites: nonsense\n")
    result = run("topology", "show", "--topology", str(broken), "--json")
    assert result.exit_code == 1
    assert str(broken) in json_error(result.stdout)["detail"]


def test_a_drill_that_cannot_start_is_a_json_error_with_exit_3() -> None:
    result = run("drill", "run", "no-such-drill", "--json")
    assert result.exit_code == 3
    assert "no such file or library drill" in json_error(result.stdout)["detail"]


@pytest.mark.parametrize(
    "args",
    [
        ["switchover", "--unit", "u00", "--json"],  # --to missing
        ["events", "--json", "--bogus"],
        ["approve", "a-1", "--accept-loss", "lots", "--json"],
    ],
)
def test_a_usage_error_under_json_is_json_with_exit_2(
    args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(args)
    assert exited.value.code == 2
    out = capsys.readouterr()
    assert json_error(out.out)["error"] == "usage"
    assert out.err == ""


def test_a_usage_error_without_json_stays_clicks(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["switchover", "--unit", "u00"])
    assert exited.value.code == 2
    assert "Missing option '--to'" in capsys.readouterr().err


def test_a_successful_json_command_exits_0() -> None:
    answers = {"/v1/events": (200, {"controller": "x", "events": []})}
    with fake_controller(answers) as url, pytest.raises(SystemExit) as exited:
        main(["events", "--controller", url, "--json"])
    assert exited.value.code == 0
