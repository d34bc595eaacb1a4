"""What the decision asks the adapters to do. Plain frozen values; each carries its reason.

The adapters record an action with its reason *before* carrying it out (docs/design.md §3.7).
Every action is safe to repeat: promotions compare the route's epoch, role changes carry
an epoch the instance checks, approvals and operations are keyed by id.

Planned operations (switchover, failback) will add their own action types here; the
decision treats :data:`Action` as an open union.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar


@dataclass(frozen=True, slots=True)
class PromoteUnit:
    """Make ``to_site`` the primary of ``unit`` at ``new_epoch`` (``expected_epoch + 1``).

    Contract for the adapter: record the operation, then one etcd transaction that
    compares ``routes/<unit> == {from_site, expected_epoch}`` and ``leases/primary/<unit>``
    absent, and writes ``routes/<unit> = {to_site, new_epoch}`` (epoch bump and route move
    together); then tell the instance in ``to_site`` its role and epoch, then record the
    outcome. A failed compare means someone else moved first: re-read, do not retry blind.

    ``to_site == from_site`` re-promotes in place: the primary's own instance, which
    stopped writing (fenced after its lease lapsed, or restarted), gets ``new_epoch``
    where it is; the same transaction, nothing moves. Only in place may ``new_epoch``
    skip ahead (past an epoch the instance drifted to), so the instance accepts it.

    ``accepted_loss`` is the number of acknowledged journal entries the promotion may lose
    (a lower bound; 0 when not ``data_losing``). ``approval_id`` names the person's
    approval that allowed it, ``None`` when the policy allowed it.

    ``catch_up_from``: before anything else, the instance in ``to_site`` must copy what
    the copy in that site holds, up to at least lsn ``catch_up_to``; if it cannot, the
    promotion is not made (the next cycle decides again).

    ``acks_required=0``: the new primary acknowledges writes on its own site alone (no
    other copy answers to hold a second one). Only with an approval; the adapter records
    it in etcd (``one_copy``) *before* telling the instance, so every later failover of
    the unit at that epoch counts as data-losing.
    """

    kind: ClassVar[str] = "promote_unit"

    unit: str
    from_site: str
    to_site: str
    expected_epoch: int
    new_epoch: int
    data_losing: bool
    accepted_loss: int
    approval_id: str | None
    reason: str
    catch_up_from: str | None = None
    catch_up_to: int = 0
    acks_required: int | None = None

    @classmethod
    def in_place(
        cls, unit: str, site: str, epoch: int, reason: str, *, new_epoch: int | None = None
    ) -> PromoteUnit:
        """Re-promote ``unit``'s own instance in ``site``, whose route is at ``epoch``;
        at ``epoch + 1`` unless the instance already stands at a later epoch."""
        return cls(
            unit=unit, from_site=site, to_site=site, expected_epoch=epoch,
            new_epoch=epoch + 1 if new_epoch is None else new_epoch,
            data_losing=False, accepted_loss=0, approval_id=None, reason=reason,
        )  # fmt: skip

    def __post_init__(self) -> None:
        if self.new_epoch <= self.expected_epoch:
            raise ValueError("a promotion raises the epoch")
        if self.new_epoch != self.expected_epoch + 1 and self.to_site != self.from_site:
            # Skipping epochs is only for an instance that drifted ahead of its route.
            raise ValueError("a promotion to another site increments the epoch by exactly one")
        if self.accepted_loss < 0 or (self.accepted_loss and not self.data_losing):
            raise ValueError("only a data-losing promotion accepts a (non-negative) loss")
        if self.acks_required == 0 and self.approval_id is None:
            raise ValueError("only a person's approval may run a unit on one site")


@dataclass(frozen=True, slots=True)
class RequestApproval:
    """Ask a person to approve promoting ``unit`` in ``to_site`` (``watertight approve``).

    The adapter creates a pending approval with a new id, bound to ``expected_epoch``,
    stating ``estimated_loss`` (a lower bound, in acknowledged journal entries).
    """

    kind: ClassVar[str] = "request_approval"

    unit: str
    from_site: str
    to_site: str
    expected_epoch: int
    estimated_loss: int
    data_losing: bool
    reason: str


@dataclass(frozen=True, slots=True)
class DemoteInstance:
    """Tell ``unit``'s instance in ``site`` that it is a standby of epoch ``epoch``.

    Sent to an instance that still says it is primary at an older epoch (an old primary
    whose site came back). The instance refuses an epoch older than its own.
    """

    kind: ClassVar[str] = "demote_instance"

    unit: str
    site: str
    epoch: int
    reason: str


@dataclass(frozen=True, slots=True)
class AssignPrimary:
    """Tell ``unit``'s instance in ``site`` that it is the primary at ``epoch``.

    Finishes a promotion whose route move committed but whose new primary was never told
    (the controller crashed in between). The route already says so; this is idempotent.
    """

    kind: ClassVar[str] = "assign_primary"

    unit: str
    site: str
    epoch: int
    operation_id: str
    reason: str


class OperationOutcome(StrEnum):
    COMPLETED = "completed"
    ROLLED_BACK = "rolled_back"
    SUPERSEDED = "superseded"
    ABANDONED = "abandoned"


@dataclass(frozen=True, slots=True)
class ResolveOperation:
    """Close an in-flight operation in the records with its outcome and why."""

    kind: ClassVar[str] = "resolve_operation"

    operation_id: str
    unit: str
    outcome: OperationOutcome
    reason: str


Action = PromoteUnit | RequestApproval | DemoteInstance | AssignPrimary | ResolveOperation
