"""The shared migration rules (failover/schema_migrations.py), on the unit's revisions."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

from app.migrations import MIGRATIONS


def test_a_new_revision_of_unchanged_models_is_the_next_id_and_changes_nothing(
    tmp_path: Path,
) -> None:
    # A copy of the revisions, so writing one leaves the repository as it was.
    location = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS.script_location, location)
    copy = dataclasses.replace(MIGRATIONS, script_location=location)
    head = int(copy.head_revision())
    copy.revision_cli("python -m app.migrations", None, ["-m", "nothing changed"])
    (written,) = (location / "versions").glob(f"r{head + 1:04d}_nothing_changed.py")
    text = written.read_text()
    assert f"Revises: {head:04d}\n" in text
    upgrade = text.split("def upgrade()", 1)[1].split("def downgrade()", 1)[0]
    assert "op." not in upgrade  # the models match the head: nothing to do
    assert copy.head_revision() == f"{head + 1:04d}"
