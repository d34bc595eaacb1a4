"""When a degraded episode is over for good (pure: mark, route, the primary's view)."""

from __future__ import annotations

from typing import Any

from failover.controller.builder import PrimaryView, sync_healed
from failover.controller.state import ReplicationMark
from failover.snapshot import Route

ROUTE = Route("same-city", 2)
RESTORED = ReplicationMark(2, acknowledged_lsn=40, sync_degraded=True, restored_at_lsn=40)


def view(last_lsn: int, applied: int, sync: str | None = "production", epoch: int = 2) -> Any:
    standbys = {"production": {"applied_lsn": applied}, "remote-dr": {"applied_lsn": 0}}
    return PrimaryView("u01", "same-city", epoch, last_lsn, sync, standbys)


def test_a_restored_standby_holding_everything_the_primary_has_ends_the_episode() -> None:
    assert sync_healed(RESTORED, ROUTE, view(last_lsn=45, applied=45))


def test_a_standby_past_the_restore_point_but_behind_the_primary_does_not() -> None:
    # Entries between the restore point and sync taking effect were acknowledged alone.
    assert not sync_healed(RESTORED, ROUTE, view(last_lsn=45, applied=42))


def test_nothing_heals_without_a_restore_a_sync_standby_or_at_another_epoch() -> None:
    degraded = ReplicationMark(2, 40, sync_degraded=True, restored_at_lsn=None)
    assert not sync_healed(degraded, ROUTE, view(45, 45))
    assert not sync_healed(RESTORED, ROUTE, view(45, 45, sync=None))
    assert not sync_healed(RESTORED, ROUTE, None)
    assert not sync_healed(RESTORED, Route("same-city", 3), view(45, 45, epoch=3))
    assert not sync_healed(RESTORED, ROUTE, view(45, 45, epoch=1))
    assert not sync_healed(ReplicationMark(2, 40), ROUTE, view(45, 45))
