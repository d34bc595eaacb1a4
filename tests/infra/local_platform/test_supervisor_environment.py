"""A supervised process gets its spec's WATERTIGHT_* variables and none of ours."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

from infra.local.supervisor import MARKER, ProcessSpec, Supervisor

DUMP = [sys.executable, "-c", "import json, os; print(json.dumps(dict(os.environ)))"]


def test_a_child_gets_its_specs_settings_and_the_marker_but_not_the_callers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The programs refuse WATERTIGHT_* names they do not read: the suite's own
    # (WATERTIGHT_RUN_SLOW) or a shell's must never reach them through the supervisor.
    monkeypatch.setenv("WATERTIGHT_RUN_SLOW", "1")
    monkeypatch.setenv("watertight_state_dir", "/elsewhere")
    monkeypatch.setenv("KEEP_ME", "yes")
    supervisor = Supervisor(tmp_path / "state")
    try:
        supervisor.start(ProcessSpec("dump", DUMP, env={"WATERTIGHT_SITE": "production"}))
        log = supervisor.log_path("dump")
        deadline = time.monotonic() + 30
        while not log.read_text().strip() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        supervisor.stop_all(grace=1.0)
    environ = json.loads(log.read_text())
    names = {name for name in environ if name.upper().startswith("WATERTIGHT_")}
    assert names == {"WATERTIGHT_SITE", MARKER}
    assert environ["KEEP_ME"] == "yes"
