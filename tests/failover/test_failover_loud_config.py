"""Router, controller and observer each refuse a WATERTIGHT_* variable they do not read."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from failover.controller import main as controller_main
from failover.controller.settings import ENV_CONTRACT as CONTROLLER
from failover.env_contract import PLATFORM_MARKER, EnvContract, UnknownVariableError
from failover.observer import main as observer_main
from failover.router import __main__ as router_main
from failover.router.settings import ENV_CONTRACT as ROUTER

OBSERVER = observer_main.ENV_CONTRACT
REPO = Path(__file__).resolve().parents[2]

PROGRAMS: dict[str, tuple[EnvContract, Callable[[], int], str]] = {
    # program: (its contract, its main, a variable the chart once gave it that it ignores)
    "router": (ROUTER, router_main.main, "WATERTIGHT_UNIT_URLS"),
    "controller": (CONTROLLER, controller_main.main, "WATERTIGHT_PEER_CONTROLLERS"),
    "observer": (OBSERVER, observer_main.main, "WATERTIGHT_PORT"),
}


@pytest.fixture
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No WATERTIGHT_* variable of the test process (CI sets some) reaches the check."""
    for name in list(os.environ):
        if name.upper().startswith("WATERTIGHT_"):
            monkeypatch.delenv(name)
    return monkeypatch


@pytest.mark.parametrize("program", PROGRAMS)
def test_an_unknown_variable_stops_the_program_naming_it_and_what_it_reads(
    program: str, clean_environ: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    contract, main, ignored = PROGRAMS[program]
    clean_environ.setenv("WATERTIGHT_TOPOLOGY", "topology.yaml")  # read by all three
    clean_environ.setenv(ignored, "1")
    assert main() == 2
    error = capsys.readouterr().err
    assert f"python -m failover.{program} does not read {ignored}" in error
    assert f"reads: {', '.join(sorted(contract.reads))}" in error


@pytest.mark.parametrize("program", PROGRAMS)
def test_every_variable_the_program_reads_is_accepted_with_the_platform_marker(
    program: str,
) -> None:
    contract, _, _ = PROGRAMS[program]
    environ = {name: "x" for name in contract.reads} | {PLATFORM_MARKER: "/tmp/state"}
    contract.check(environ)
    assert contract.unknown(environ) == []


@pytest.mark.parametrize("program", PROGRAMS)
def test_every_program_reads_the_log_format_and_refuses_one_it_does_not_know(
    program: str, clean_environ: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    contract, main, _ = PROGRAMS[program]
    assert "WATERTIGHT_LOG_FORMAT" in contract.reads
    if program != "router":  # the router has no site; the others need theirs first
        clean_environ.setenv("WATERTIGHT_SITE", "production")
    clean_environ.setenv("WATERTIGHT_LOG_FORMAT", "xml")
    assert main() == 2
    assert "WATERTIGHT_LOG_FORMAT='xml': use one of json, text" in capsys.readouterr().err


def test_the_router_reads_its_address_map_and_not_the_sites_settings() -> None:
    assert ROUTER.reads == {
        "WATERTIGHT_HOST",
        "WATERTIGHT_PORT",
        "WATERTIGHT_TOPOLOGY",
        "WATERTIGHT_ETCD_ENDPOINTS",
        "WATERTIGHT_ADDRESS_MAP",
        "WATERTIGHT_UNIT_URL_TEMPLATE",
        "WATERTIGHT_LOG_FORMAT",
        "WATERTIGHT_TLS_DIR",
    }
    assert ROUTER.required == frozenset()


def test_controller_and_observer_require_their_site_and_the_observer_serves_only_metrics() -> None:
    assert CONTROLLER.required == OBSERVER.required == {"WATERTIGHT_SITE"}
    assert {"WATERTIGHT_ADDRESSES", "WATERTIGHT_STATE_DIR"} <= CONTROLLER.reads
    assert OBSERVER.reads - {"WATERTIGHT_METRICS_PORT"} < CONTROLLER.reads
    assert "WATERTIGHT_PORT" not in OBSERVER.reads


def test_several_unknown_names_are_all_named_at_once() -> None:
    with pytest.raises(UnknownVariableError) as refused:
        OBSERVER.check({"WATERTIGHT_TOKEN_FILE": "t", "WATERTIGHT_CONTROLLER_ID": "c"})
    assert "does not read WATERTIGHT_CONTROLLER_ID, WATERTIGHT_TOKEN_FILE:" in str(refused.value)


def complete_environ(tmp_path: Path) -> dict[str, str]:
    """One value for every need of the three programs, each valid enough to be used."""
    addresses = tmp_path / "addresses.json"
    addresses.write_text(json.dumps({"units": {"u00": {"production": "http://127.0.0.1:9"}}}))
    return {
        "WATERTIGHT_SITE": "production",
        "WATERTIGHT_TOPOLOGY": str(REPO / "topology.yaml"),
        "WATERTIGHT_ETCD_ENDPOINTS": '["http://127.0.0.1:9"]',
        "WATERTIGHT_ADDRESS_MAP": str(addresses),
        "WATERTIGHT_UNIT_URL_TEMPLATE": "http://{unit}.{site}:8100",
        "WATERTIGHT_ADDRESSES": str(addresses),
        "WATERTIGHT_ADDRESSES_JSON": addresses.read_text(),
        "WATERTIGHT_TOKEN": "secret",
        "WATERTIGHT_TOKEN_FILE": str(tmp_path / "token"),
    }


NEEDS = [
    (program, sorted(group))
    for program, (contract, _, _) in PROGRAMS.items()
    for group in [frozenset({name}) for name in contract.required] + list(contract.needs_one_of)
]


@pytest.mark.parametrize(("program", "group"), NEEDS, ids=[f"{p}-{g[0]}" for p, g in NEEDS])
def test_each_declared_need_is_one_the_program_refuses_to_start_without(
    program: str,
    group: list[str],
    tmp_path: Path,
    clean_environ: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The chart's acceptance test trusts needs_one_of: here main proves each group real.
    # Every other need is met; main stops at this one before it opens anything.
    contract, main, _ = PROGRAMS[program]
    for name, value in complete_environ(tmp_path).items():
        if name in contract.reads and name not in group:
            clean_environ.setenv(name, value)
    assert contract.missing(os.environ) == [" or ".join(group)]
    assert main() == 2
    error = capsys.readouterr().err
    spelled = list(group) + [name.removeprefix("WATERTIGHT_").lower() for name in group]
    assert any(word in error for word in spelled), error
