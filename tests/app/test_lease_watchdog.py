"""The lease watchdog: a primary whose lease lapsed is fenced without waiting for a write;
only a primary is checked often."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from unit_app_helpers import settings_for

from app.lease import NoLease
from app.lease_watchdog import LeaseWatchdog
from app.service import UnitService, build_service


@pytest.fixture
def primary(tmp_path: Path) -> Iterator[UnitService]:
    service = build_service(settings_for(tmp_path, role="primary", standbys=[]), NoLease())
    service.start()
    yield service
    service.stop()


def wait_for_role(service: UnitService, role: str, within: float = 10.0) -> str:
    deadline = time.monotonic() + within
    while service.node.role.role != role and time.monotonic() < deadline:
        time.sleep(0.01)
    return service.node.role.role


def test_a_primary_whose_lease_lapsed_is_fenced_without_a_write(primary: UnitService) -> None:
    assert primary.node.role.role == "primary"
    primary.node.lease.release()  # valid() turns false, as at a lapsed fence deadline
    assert wait_for_role(primary, "fenced") == "fenced"
    assert "lease lapsed" in (primary.node.fence_reason or "")


def test_a_primary_whose_lease_holds_is_left_alone(primary: UnitService) -> None:
    watchdog = LeaseWatchdog(primary.node)
    assert watchdog.check_once() is False
    assert primary.node.role.role == "primary"


def test_only_a_primary_is_checked_ten_times_a_second(primary: UnitService, tmp_path: Path) -> None:
    assert LeaseWatchdog(primary.node).next_check_in() == pytest.approx(0.1)
    standby = build_service(settings_for(tmp_path / "standby"), NoLease())
    standby.start()
    try:
        assert LeaseWatchdog(standby.node).next_check_in() == pytest.approx(1.0)
    finally:
        standby.stop()
