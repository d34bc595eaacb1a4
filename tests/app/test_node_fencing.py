"""Fencing on a newer epoch reported by a replication link.

Role changes do not wait for the old replicator's link threads (a role change must not
sit out a request to a dead standby), so a link of a replaced replicator may still
report what it saw. Such a late report must fence only if its epoch is newer than the
instance's current one.
"""

from __future__ import annotations

import time
from pathlib import Path

from unit_app_helpers import settings_for

from app.lease import NoLease
from app.node import Node
from app.roles import NodeRole
from app.service import build_service


def _primary_at(tmp_path: Path, epoch: int) -> Node:
    service = build_service(settings_for(tmp_path), NoLease())
    service.db.create_schema()
    node = service.node
    node.start(NodeRole("primary", epoch, "production"))
    return node


def _wait_for_fence_threads() -> None:
    time.sleep(0.3)  # _on_stale fences from its own thread


def test_a_late_report_from_a_replaced_link_does_not_fence_a_newer_primary(
    tmp_path: Path,
) -> None:
    node = _primary_at(tmp_path, epoch=5)
    node._on_stale(4, "standby at epoch 4 (seen by a link of epoch 3)")
    _wait_for_fence_threads()
    assert node.role.role == "primary"


def test_a_standby_at_a_newer_epoch_fences_the_primary(tmp_path: Path) -> None:
    node = _primary_at(tmp_path, epoch=5)
    node._on_stale(6, "standby at epoch 6")
    deadline = time.monotonic() + 10.0
    while node.role.role == "primary" and time.monotonic() < deadline:
        time.sleep(0.02)
    assert node.role.role == "fenced"
    assert node.fence_reason is not None
    assert "newer epoch 6" in node.fence_reason
