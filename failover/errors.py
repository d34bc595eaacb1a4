"""The orchestrator's errors. Each message says what happened and what a person can do next.

Every error the orchestrator raises on purpose derives from :class:`WatertightError`, so the
API and the CLI can turn it into ``{"error": code, "detail": str(exc)}`` with
:attr:`WatertightError.http_status` without knowing each kind. Anything else that escapes
is a bug, not a message for the operator.

The names say what happened in the domain (``NotLeader``, not ``NotLeaderError``), hence
the ``N818`` exemptions.
"""

from __future__ import annotations

from typing import ClassVar


class WatertightError(Exception):
    """Base of the orchestrator's errors. ``str()`` is a sentence for a person."""

    code: ClassVar[str] = "watertight_error"
    http_status: ClassVar[int] = 500


class InvalidRequest(WatertightError):  # noqa: N818
    """A request that cannot succeed as written; nothing was changed.

    Examples: an unknown unit or site, a switchover to the site that is already primary,
    approving an approval that was already decided.
    """

    code: ClassVar[str] = "invalid_request"
    http_status: ClassVar[int] = 422

    def __init__(self, detail: str, *, field: str | None = None) -> None:
        self.detail = detail
        self.field = field
        super().__init__(f"{field}: {detail}" if field else detail)


class NotLeader(WatertightError):  # noqa: N818
    """This controller does not hold the leader lease, so it must not act."""

    code: ClassVar[str] = "not_leader"
    http_status: ClassVar[int] = 503

    def __init__(self, controller: str, leader: str | None) -> None:
        self.controller = controller
        self.leader = leader
        if leader is None:
            message = (
                f"controller {controller} is not the leader and no controller holds the "
                "leader lease right now; retry in a few seconds"
            )
        else:
            message = f"controller {controller} is not the leader; send the request to {leader}"
        super().__init__(message)


class ApprovalRequired(WatertightError):  # noqa: N818
    """A data-losing or remote-dr promotion waits for a person to accept its loss."""

    code: ClassVar[str] = "approval_required"
    http_status: ClassVar[int] = 409

    def __init__(self, approval_id: str, unit: str, site: str, loss_entries: int) -> None:
        self.approval_id = approval_id
        self.unit = unit
        self.site = site
        self.loss_entries = loss_entries
        super().__init__(
            f"promoting {unit} in {site} may lose at least {loss_entries} acknowledged "
            f"entries; accept that with `watertight approve {approval_id}`"
        )


class UnsafeAction(WatertightError):  # noqa: N818
    """An action refused because carrying it out could break an invariant (docs/design.md §3)."""

    code: ClassVar[str] = "unsafe_action"
    http_status: ClassVar[int] = 409

    def __init__(self, action: str, reason: str) -> None:
        self.action = action
        self.reason = reason
        super().__init__(f"refusing to {action}: {reason}")
