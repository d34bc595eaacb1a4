"""Which primary lease a unit instance uses."""

from __future__ import annotations

from pathlib import Path

from unit_app_helpers import settings_for

from app.lease import NoLease
from app.lease_factory import build_lease


def test_without_etcd_endpoints_the_lease_is_local(tmp_path: Path) -> None:
    assert isinstance(build_lease(settings_for(tmp_path)), NoLease)


def test_with_etcd_endpoints_the_etcd_lease_is_used(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, etcd_endpoints=("http://127.0.0.1:1",))
    lease = build_lease(settings)
    assert type(lease).__name__ == "EtcdPrimaryLease"
    lease.release()
