"""When `up` calls a unit serving: its primary's standby links are all up."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from infra.local.ports import free_ports
from infra.local.readiness import primary_replicating, quiet, wait_ready
from infra.local.state import PlatformError, ProcessRecord
from infra.local.supervisor import Supervisor


def test_a_standby_instance_says_nothing_about_replication() -> None:
    assert primary_replicating({"role": "standby"}) is None
    assert primary_replicating({"role": "fenced"}) is None


def test_a_primary_with_every_link_up_is_replicating() -> None:
    info = {"role": "primary", "standbys": [{"healthy": True}, {"healthy": True}]}
    assert primary_replicating(info) is True


def test_a_primary_with_a_link_still_down_or_none_at_all_is_not_yet_serving() -> None:
    assert primary_replicating({"role": "primary", "standbys": [{"healthy": True}, {}]}) is False
    assert primary_replicating({"role": "primary", "standbys": []}) is False
    assert primary_replicating({"role": "primary"}) is False


def test_a_process_that_died_after_its_url_answered_fails_the_wait(tmp_path: Path) -> None:
    # CI: the router lost its port to a unit, died, and the unit's /readyz answered for it.
    supervisor = Supervisor(tmp_path / "state")
    squatter, slow = free_ports(2)
    serve = "import http.server as h, sys, time; time.sleep(float(sys.argv[2])); " \
            "h.HTTPServer(('127.0.0.1', int(sys.argv[1])), h.SimpleHTTPRequestHandler)" \
            ".serve_forever()"  # fmt: skip
    records = [
        _record("squatter", [sys.executable, "-c", serve, str(squatter), "0"], squatter),
        _record("router", [sys.executable, "-c", "import time; time.sleep(2)"], squatter),
        _record("slow", [sys.executable, "-c", serve, str(slow), "5"], slow),
    ]
    try:
        for record in records:
            supervisor.start(record.spec())
        with pytest.raises(PlatformError, match=r"router exited after .* answered ready"):
            wait_ready(supervisor, records[1:], 30.0, quiet)
    finally:
        supervisor.stop_all(grace=1.0)


def _record(name: str, argv: list[str], port: int) -> ProcessRecord:
    return ProcessRecord(name, argv, {}, None, f"http://127.0.0.1:{port}/", "test")
