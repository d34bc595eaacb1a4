"""The controller's own keys in etcd: what any leader, in any site, must be able to see.

One records store per controller process cannot tell a *new* leader in another site what
the old one was doing, so everything a decision depends on lives in etcd (the quorum
store), next to the routes it guards; the records store is the audit trail.

Keys under ``/watertight/<topology>/``:

- ``controller/replication/<unit>``: :class:`ReplicationMark`
  (``epoch, acknowledged_lsn, one_copy``: the highest lsn ever seen durable by the
  commit rule; whether the primary of that epoch acknowledges on one site alone);
- ``controller/operations/<id>``: an in-flight promotion (``InFlightPromotion``, wall time);
- ``controller/failovers/<unit>``: ``{"moves": [MoveRecord...]}`` of the last hour;
- ``approvals/<id>``: :class:`StoredApproval`;
- ``freeze``: ``{"reason", "by", "at"}`` while frozen.

Values are canonical JSON; times are Unix seconds.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import asdict, dataclass, replace
from typing import Any

from failover.dcs import Dcs, Keys
from failover.dcs.codec import canonical_json
from failover.snapshot import InFlightPromotion

HOUR = 3600.0


@dataclass(frozen=True, slots=True)
class ReplicationMark:
    epoch: int
    acknowledged_lsn: int = 0
    one_copy: bool = False


@dataclass(frozen=True, slots=True)
class StoredApproval:
    """An approval request and its fate. ``status``: pending | granted | used | expired."""

    id: str
    unit: str
    from_site: str
    to_site: str
    expected_epoch: int
    estimated_loss: int
    accepted_loss: int
    status: str
    reason: str
    requested_at: float
    decided_at: float | None = None
    decided_by: str | None = None
    approvers: tuple[tuple[str, int], ...] = ()
    """``(name, accepted loss)`` of each approver so far, in order; the approval is
    granted once the topology's ``distinct_approvers`` have approved."""

    @classmethod
    def from_json(cls, text: str) -> StoredApproval:
        fields = json.loads(text)
        fields["approvers"] = tuple((str(n), int(v)) for n, v in fields.get("approvers", ()))
        return cls(**fields)

    @property
    def open(self) -> bool:
        return self.status in ("pending", "granted")


@dataclass(frozen=True, slots=True)
class MoveRecord:
    at: float
    from_site: str
    to_site: str
    epoch: int


class ControllerState:
    """Typed access to the keys above. Every call may raise ``DcsError``."""

    def __init__(self, dcs: Dcs, keys: Keys) -> None:
        self._dcs, self.keys = dcs, keys
        self._root = f"{keys.root}controller/"

    # replication marks ----------------------------------------------------------------

    def marks(self) -> dict[str, ReplicationMark]:
        prefix = f"{self._root}replication/"
        found = {}
        for key, kv in self._dcs.get_prefix(prefix).items():
            data = json.loads(kv.value)
            # Marks written before quorum commit carried sync-degrade fields; only these
            # two still mean anything.
            mark = ReplicationMark(
                int(data["epoch"]),
                int(data.get("acknowledged_lsn", 0)),
                bool(data.get("one_copy", False)),
            )
            found[key[len(prefix) :]] = mark
        return found

    def put_mark(self, unit: str, mark: ReplicationMark) -> None:
        self._dcs.put(f"{self._root}replication/{unit}", canonical_json(asdict(mark)))

    # in-flight operations -------------------------------------------------------------

    def operations(self) -> list[InFlightPromotion]:
        prefix = f"{self._root}operations/"
        return [
            InFlightPromotion(**json.loads(kv.value))
            for kv in self._dcs.get_prefix(prefix).values()
        ]

    def start_operation(self, op: InFlightPromotion) -> None:
        self._dcs.put(f"{self._root}operations/{op.operation_id}", canonical_json(asdict(op)))

    def end_operation(self, operation_id: str) -> None:
        self._dcs.delete(f"{self._root}operations/{operation_id}")

    # failover history (rate limit) ----------------------------------------------------

    def moves(self) -> dict[str, list[MoveRecord]]:
        prefix = f"{self._root}failovers/"
        return {
            k[len(prefix) :]: [MoveRecord(**m) for m in json.loads(kv.value)["moves"]]
            for k, kv in self._dcs.get_prefix(prefix).items()
        }

    def add_move(self, unit: str, move: MoveRecord, now: float) -> None:
        recent = [m for m in self.moves().get(unit, []) if now - m.at < HOUR]
        document = {"moves": [asdict(m) for m in [*recent, move]]}
        self._dcs.put(f"{self._root}failovers/{unit}", canonical_json(document))

    # approvals ------------------------------------------------------------------------

    def approvals(self) -> list[StoredApproval]:
        items = self._dcs.get_prefix(self.keys.approvals_prefix).values()
        found = [StoredApproval.from_json(kv.value) for kv in items]
        return sorted(found, key=lambda a: (a.requested_at, a.id))

    def approval(self, approval_id: str) -> StoredApproval | None:
        kv = self._dcs.get(self.keys.approval(approval_id))
        return None if kv is None else StoredApproval.from_json(kv.value)

    def put_approval(self, approval: StoredApproval) -> None:
        self._dcs.put(self.keys.approval(approval.id), canonical_json(asdict(approval)))

    def new_approval(self, **fields: Any) -> StoredApproval:
        approval = StoredApproval(
            id=f"a-{uuid.uuid4().hex[:6]}", status="pending", requested_at=time.time(), **fields
        )
        self.put_approval(approval)
        return approval

    def set_approval_status(self, approval: StoredApproval, status: str, **fields: Any) -> None:
        self.put_approval(replace(approval, status=status, **fields))

    # freeze ---------------------------------------------------------------------------

    def frozen(self) -> dict[str, Any] | None:
        kv = self._dcs.get(self.keys.freeze)
        return None if kv is None else dict(json.loads(kv.value))

    def freeze(self, reason: str, by: str) -> None:
        value = {"reason": reason, "by": by, "at": time.time()}
        self._dcs.put(self.keys.freeze, canonical_json(value))

    def unfreeze(self) -> bool:
        return self._dcs.delete(self.keys.freeze) > 0
