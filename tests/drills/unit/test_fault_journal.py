"""The drill side of the fault journal: when the last fault took effect."""

from __future__ import annotations

import json
from pathlib import Path

from drills.platform import last_fault_began_at


def test_the_last_journal_entry_says_when_the_fault_took_effect(tmp_path: Path) -> None:
    entries = [{"action": "partition", "began_at": 100.5}, {"action": "heal", "began_at": 200.25}]
    (tmp_path / "faults.jsonl").write_text("".join(json.dumps(e) + "\n" for e in entries))
    assert last_fault_began_at(tmp_path) == 200.25


def test_a_missing_or_older_journal_gives_no_effect_time(tmp_path: Path) -> None:
    assert last_fault_began_at(tmp_path) is None
    (tmp_path / "faults.jsonl").write_text(json.dumps({"action": "heal", "at": 3.0}) + "\n")
    assert last_fault_began_at(tmp_path) is None
    (tmp_path / "faults.jsonl").write_text("not json\n")
    assert last_fault_began_at(tmp_path) is None
