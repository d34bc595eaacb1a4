"""Every command that reads a topology or drill file answers a bad one with one line
naming the file and the field, a non-zero exit and no traceback; under ``--json``, the
one JSON error document ``{"error", "detail"}`` on stdout instead."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from watertight.cli import cli

REPO = Path(__file__).resolve().parents[2]
GOOD_TOPOLOGY = REPO / "topology.yaml"


def _unknown_primary() -> bytes:
    doc = yaml.safe_load(GOOD_TOPOLOGY.read_text())
    doc["units"][3]["primary"] = "prod"
    return yaml.safe_dump(doc).encode()


# name -> (file content, what the one line must contain after "FILE: ")
BAD_TOPOLOGIES: dict[str, tuple[bytes, str]] = {
    "an unknown primary site": (
        _unknown_primary(),
        "units[3].primary: unknown site 'prod'; known sites: production, same-city, remote-dr",
    ),
    "bytes that are not UTF-8": (b"\xff\xfe", "not UTF-8 text"),
    "a syntax error": (b"sites: [unclosed\n", "not valid YAML: line 2, column 1: "),
    "nesting 5000 deep": (b"[" * 5000, "nested deeper than 64 levels"),
    "a 5000-digit integer": (b"buckets: " + b"9" * 5000, "buckets: line 1, column 10: "),
    "a key given twice": (b"buckets: 1\nbuckets: 2\n", "buckets: key given twice"),
    "a malformed timestamp": (b"name: 2001-13-45\n", "name: line 1, column 7: "),
}
_LOAD = {"rate_per_second": 1, "customers": 1, "duration_seconds": 9, "mix": {"purchase": 1}}
BAD_DRILLS: dict[str, tuple[bytes, str]] = {
    "an unknown site": (
        yaml.safe_dump(
            {
                "title": "t",
                "load": _LOAD,
                "method": [{"at": 1, "action": "site-down", "site": "prod"}],
            }
        ).encode(),
        "method[0].site: unknown site 'prod'",
    ),
    "bytes that are not UTF-8": (b"title: \xc3\x28", "not UTF-8 text"),
    "a list where the document belongs": (b"- title: t\n", "must be a mapping"),
    "a bool that is not one": (b"title: !!bool maybe\n", "title: line 1, column 8: "),
}

Command = Callable[[Path, Path], list[str]]
# Each command that takes a topology file, given (the bad file, a state dir).
TOPOLOGY_COMMANDS: dict[str, tuple[Command, int]] = {
    "topology validate": (lambda f, _: ["topology", "validate", str(f)], 1),
    "topology show": (lambda f, _: ["topology", "show", "--topology", str(f)], 1),
    "up": (lambda f, d: ["up", "--topology", str(f), "--state-dir", str(d)], 1),
    "drill run": (lambda f, _: ["drill", "run", "production-outage", "--topology", str(f)], 3),
    "drill chaos": (lambda f, _: ["drill", "chaos", "--seed", "1", "--topology", str(f)], 3),
    "demo": (lambda f, _: ["demo", "--topology", str(f)], 3),
}


def _invoke(args: list[str]) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, args)
    # Anything but typer.Exit is an exception the command let through (a traceback).
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def _assert_one_line(stderr: str, path: Path, expected: str) -> None:
    assert stderr.endswith("\n") and stderr.count("\n") == 1, stderr
    assert stderr.startswith(f"error: {path}: "), stderr
    assert expected in stderr, stderr


def _assert_json_error(stdout: str, path: Path, expected: str) -> None:
    body = json.loads(stdout)
    assert set(body) == {"error", "detail"}, body
    assert body["error"] == "failed"
    assert body["detail"].startswith(f"{path}: ") and expected in body["detail"], body


@pytest.mark.parametrize("command", sorted(TOPOLOGY_COMMANDS))
@pytest.mark.parametrize("case", sorted(BAD_TOPOLOGIES))
def test_a_bad_topology_file_is_one_line_with_file_and_field_and_a_non_zero_exit(
    tmp_path: Path, command: str, case: str
) -> None:
    content, expected = BAD_TOPOLOGIES[case]
    path = tmp_path / "topology.yaml"
    path.write_bytes(content)
    args, status = TOPOLOGY_COMMANDS[command]
    exit_code, stdout, stderr = _invoke(args(path, tmp_path / "state"))
    assert exit_code == status
    _assert_one_line(stderr, path, expected)
    assert stdout == ""


@pytest.mark.parametrize("command", ["topology show", "up", "drill run", "drill chaos"])
@pytest.mark.parametrize("case", sorted(BAD_TOPOLOGIES))
def test_a_bad_topology_file_under_json_is_the_json_error(
    tmp_path: Path, command: str, case: str
) -> None:
    content, expected = BAD_TOPOLOGIES[case]
    path = tmp_path / "topology.yaml"
    path.write_bytes(content)
    args, status = TOPOLOGY_COMMANDS[command]
    exit_code, stdout, stderr = _invoke([*args(path, tmp_path / "state"), "--json"])
    assert exit_code == status
    _assert_json_error(stdout, path, expected)
    assert stderr == ""


def test_up_with_a_bad_topology_starts_nothing_and_leaves_no_state(tmp_path: Path) -> None:
    path = tmp_path / "topology.yaml"
    path.write_bytes(BAD_TOPOLOGIES["a key given twice"][0])
    exit_code, _, _ = _invoke(["up", "--topology", str(path), "--state-dir", str(tmp_path / "s")])
    assert exit_code == 1
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize("as_json", [False, True])
@pytest.mark.parametrize("case", sorted(BAD_DRILLS))
def test_a_bad_drill_file_cannot_start_and_says_file_and_field(
    tmp_path: Path, case: str, as_json: bool
) -> None:
    content, expected = BAD_DRILLS[case]
    path = tmp_path / "my-drill.yaml"
    path.write_bytes(content)
    args = ["drill", "run", str(path), "--topology", str(GOOD_TOPOLOGY)]
    exit_code, stdout, stderr = _invoke(args + ["--json"] * as_json)
    assert exit_code == 3
    if as_json:
        _assert_json_error(stdout, path, expected)
        assert stderr == ""
    else:
        _assert_one_line(stderr, path, expected)
        assert stdout == ""


@pytest.mark.parametrize("rate", ["0", "-1", "10001", "fast"])
def test_a_drill_rate_out_of_range_is_refused_naming_the_option(rate: str) -> None:
    exit_code, stdout, stderr = _invoke(["drill", "run", "production-outage", "--rate", rate])
    assert exit_code == 2  # a usage error: nothing started
    assert "--rate" in stderr and "Traceback" not in stderr + stdout


def test_a_drill_name_too_long_for_a_path_is_no_such_drill_not_a_traceback() -> None:
    exit_code, stdout, stderr = _invoke(["drill", "run", "d" * 5000])
    assert exit_code == 3
    assert stderr.startswith("error: ddd") and "no such file or library drill" in stderr
    assert stderr.count("\n") == 1 and stdout == ""


@pytest.mark.parametrize("as_json", [False, True])
def test_the_installed_command_prints_no_traceback_for_a_bad_drill_file(
    tmp_path: Path, as_json: bool
) -> None:
    path = tmp_path / "deep.yaml"
    path.write_bytes(b"{a: " * 5000)  # a RecursionError in the parser before
    args = ["drill", "run", str(path), "--topology", str(GOOD_TOPOLOGY)]
    done = subprocess.run(
        [sys.executable, "-m", "watertight", *args, *["--json"] * as_json],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 3
    assert "Traceback" not in done.stderr + done.stdout
    if as_json:
        _assert_json_error(done.stdout, path, "nested deeper than 64 levels")
    else:
        _assert_one_line(done.stderr, path, "nested deeper than 64 levels")
