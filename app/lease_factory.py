"""Chooses the primary lease implementation from the settings."""

from __future__ import annotations

import importlib
from typing import cast

from app.lease import NoLease, PrimaryLease
from app.settings import UnitSettings


def build_lease(settings: UnitSettings) -> PrimaryLease:
    """``NoLease`` without etcd endpoints, else ``app.etcd_lease.EtcdPrimaryLease(settings)``.

    The etcd adapter is imported lazily so the unit service runs without it installed.
    """
    if not settings.etcd_endpoints:
        return NoLease()
    module = importlib.import_module("app.etcd_lease")
    return cast(PrimaryLease, module.EtcdPrimaryLease(settings))
