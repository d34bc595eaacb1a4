"""The quorum store (DCS) adapter: a small port over etcd, the key layout, route helpers.

Contract and key layout: ``docs/dcs.md``. Use :class:`EtcdDcs` for the real store
(:class:`MemoryDcs` in pure tests) and :class:`RouteStore` for routes; everything raises
subclasses of :class:`DcsError`.
"""

from failover.dcs.errors import (
    CasFailed,
    DcsError,
    DcsOutcomeUnknown,
    DcsUnavailable,
    LeaseNotFound,
)
from failover.dcs.etcd import EtcdDcs
from failover.dcs.keys import Keys
from failover.dcs.memory import MemoryDcs
from failover.dcs.port import (
    Compare,
    Dcs,
    Delete,
    KeyValue,
    LeaseGrant,
    Put,
    TxnResult,
    WatchEvent,
    WatchHandle,
    WatchKind,
    WatchUpdate,
)
from failover.dcs.routes import Route, RouteStore

__all__ = [
    "CasFailed",
    "Compare",
    "Dcs",
    "DcsError",
    "DcsOutcomeUnknown",
    "DcsUnavailable",
    "Delete",
    "EtcdDcs",
    "KeyValue",
    "Keys",
    "LeaseGrant",
    "LeaseNotFound",
    "MemoryDcs",
    "Put",
    "Route",
    "RouteStore",
    "TxnResult",
    "WatchEvent",
    "WatchHandle",
    "WatchKind",
    "WatchUpdate",
]
