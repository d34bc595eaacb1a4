"""``python -m app`` refuses a WATERTIGHT_* variable it does not read, naming it."""

from __future__ import annotations

import os

import pytest

from app.__main__ import main
from app.settings import ENV_CONTRACT
from failover.env_contract import PLATFORM_MARKER, UnknownVariableError


@pytest.fixture
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No WATERTIGHT_* variable of the test process (CI sets some) reaches the check."""
    for name in list(os.environ):
        if name.upper().startswith("WATERTIGHT_"):
            monkeypatch.delenv(name)
    return monkeypatch


def test_an_unknown_variable_stops_the_unit_service_naming_it_and_what_it_reads(
    clean_environ: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    clean_environ.setenv("WATERTIGHT_UNIT", "u00")
    clean_environ.setenv("WATERTIGHT_SITE", "production")
    clean_environ.setenv("WATERTIGHT_UNIT_URLS", "{}")
    assert main([]) == 2
    error = capsys.readouterr().err
    assert "python -m app does not read WATERTIGHT_UNIT_URLS" in error
    assert "reads: WATERTIGHT_CREDENTIALS_DIR, WATERTIGHT_CREDIT_LIMIT_MINOR" in error
    assert "WATERTIGHT_UNIT, " not in error.split("reads:")[0]


def test_the_unit_service_reads_the_log_format_and_refuses_one_it_does_not_know(
    clean_environ: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert "WATERTIGHT_LOG_FORMAT" in ENV_CONTRACT.reads
    clean_environ.setenv("WATERTIGHT_UNIT", "u00")
    clean_environ.setenv("WATERTIGHT_SITE", "production")
    clean_environ.setenv("WATERTIGHT_LOG_FORMAT", "xml")
    assert main([]) == 2
    assert "WATERTIGHT_LOG_FORMAT='xml': use one of json, text" in capsys.readouterr().err


def test_a_misspelt_variable_in_lower_case_is_refused_too() -> None:
    # pydantic-settings reads names case-insensitively, so the check compares them so.
    with pytest.raises(UnknownVariableError, match="watertight_data_dri"):
        ENV_CONTRACT.check({"watertight_data_dri": "/tmp"})
    ENV_CONTRACT.check({"watertight_data_dir": "/tmp"})


def test_every_variable_the_unit_service_reads_is_accepted_with_the_platform_marker() -> None:
    environ = {name: "x" for name in ENV_CONTRACT.reads}
    environ[PLATFORM_MARKER] = "/tmp/state"
    environ["PATH"] = "/usr/bin"
    ENV_CONTRACT.check(environ)
    assert ENV_CONTRACT.unknown(environ) == []


def test_the_contract_is_the_settings_fields_and_unit_and_site_are_required() -> None:
    assert {"WATERTIGHT_UNIT", "WATERTIGHT_PEERS", "WATERTIGHT_DATA_DIR"} <= ENV_CONTRACT.reads
    assert "WATERTIGHT_ADDRESSES" not in ENV_CONTRACT.reads
    assert ENV_CONTRACT.required == {"WATERTIGHT_UNIT", "WATERTIGHT_SITE"}
