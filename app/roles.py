"""Pure rules for an instance's role and epoch (docs/design.md §3.1). No I/O.

Role changes (``POST /admin/role``) and the role a process takes when it starts are
decided here from the current :class:`NodeRole` and the request.

Restart rule: a process keeps the epoch stored in its database. A stored ``primary``
comes back ``standby`` unless the settings say ``role=primary`` at an epoch at least as
new as the stored one (for the same epoch: only if that epoch was this site's own). A
stored ``fenced`` stays fenced unless the settings carry a newer epoch. Settings with a
newer epoch than the stored one are a new assignment and win.

Epoch jumps: a request may raise the epoch by at most :data:`MAX_EPOCH_JUMP`. Every
legitimate change is a small step (a promotion is the route's epoch + 1; re-promoting a
drifted instance in place is max(route, instance) + 1; a demotion names the route's
epoch, which the instance follows by handshake anyway), while a wild value would push the
unit's epochs towards the 64-bit ceiling, past which no promotion could ever be written.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from app.errors import InvalidRequestError, RoleConflictError, StaleEpochError
from app.schemas import Name, NonNegativeInt64, integral

Role = Literal["primary", "standby", "fenced"]
ROLES: tuple[Role, ...] = ("primary", "standby", "fenced")
MAX_EPOCH_JUMP = 1000
"""How far above its current epoch one ``POST /admin/role`` may take an instance."""


@dataclass(frozen=True, slots=True)
class NodeRole:
    """Who this instance is right now. ``primary_site`` is the primary it knows of."""

    role: Role
    epoch: int
    primary_site: str | None
    standbys: tuple[str, ...] = ()
    """As primary: the sites it ships its journal to; a write needs their quorum."""
    acks_required: int | None = None
    """As primary: standby acknowledgements a write needs, when not the topology's rule.
    Only 0 is ever sent: a person approved running on one site after a disaster."""


class RoleRequest(BaseModel):
    """Body of ``POST /admin/role``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    role: Role
    epoch: NonNegativeInt64
    standbys: Annotated[list[Name], Field(max_length=16)] | None = None
    """As primary: the standby sites (default: every other site of the topology)."""
    acks_required: Annotated[
        int | None, Field(strict=True, ge=0, le=2), BeforeValidator(integral)
    ] = None
    """As primary: standby acknowledgements a write needs (default: the topology's
    commit rule). 0 acknowledges after the local commit: a declared disaster only."""
    primary_site: Name | None = None


def change_role(
    current: NodeRole, request: RoleRequest, site: str, default_standbys: tuple[str, ...] = ()
) -> NodeRole:
    """The role after ``request``, or raise why it is refused. A primary without
    ``standbys`` in the request ships to ``default_standbys``.

    Refused: an epoch older than ours (:class:`StaleEpochError`); one more than
    :data:`MAX_EPOCH_JUMP` above ours, or contradictory sites (:class:`InvalidRequestError`);
    becoming primary at an epoch we already saw as another site's (:class:`RoleConflictError`).
    """
    if request.epoch < current.epoch:
        raise StaleEpochError(
            f"epoch {request.epoch} is older than this instance's epoch {current.epoch}",
            extra={"epoch": current.epoch},
        )
    if request.epoch > current.epoch + MAX_EPOCH_JUMP:
        raise InvalidRequestError(
            f"epoch: {request.epoch} is more than {MAX_EPOCH_JUMP} above this instance's "
            f"epoch {current.epoch}; role changes move the epoch a step at a time",
            extra={"epoch": current.epoch},
        )
    if request.role == "primary":
        return _promote(current, request, site, default_standbys)
    if request.primary_site == site:
        raise InvalidRequestError(f"a {request.role} cannot name itself ({site}) as the primary")
    primary_site = request.primary_site
    if primary_site is None and request.epoch == current.epoch:
        # Same epoch: still owned by the primary we knew (possibly ourselves), so another
        # site can only take over with a newer epoch.
        primary_site = current.primary_site
    return NodeRole(request.role, request.epoch, primary_site)


def _promote(
    current: NodeRole, request: RoleRequest, site: str, default_standbys: tuple[str, ...]
) -> NodeRole:
    if request.primary_site not in (None, site):
        raise InvalidRequestError(f"promoting {site} but primary_site says {request.primary_site}")
    if request.epoch == current.epoch and current.primary_site not in (None, site):
        raise RoleConflictError(
            f"epoch {current.epoch} already belongs to primary {current.primary_site}; "
            f"promote with epoch {current.epoch + 1} or higher",
            extra={"epoch": current.epoch, "primary_site": current.primary_site},
        )
    standbys = tuple(request.standbys) if request.standbys is not None else default_standbys
    if site in standbys:
        raise InvalidRequestError(f"{site} cannot be its own standby")
    if len(set(standbys)) != len(standbys):
        raise InvalidRequestError("a site is listed twice among the standbys")
    return NodeRole("primary", request.epoch, site, standbys, request.acks_required)


def role_at_start(
    stored: NodeRole | None, configured: NodeRole, site: str, *, configured_epoch_explicit: bool
) -> NodeRole:
    """The role a starting process takes (see the module docstring for the rule)."""
    if stored is None:
        return configured
    if configured.epoch > stored.epoch and configured_epoch_explicit:
        return configured
    reasserted = configured.role == "primary" and configured.epoch == stored.epoch
    if reasserted and stored.role != "fenced" and _was_own(stored, site):
        return replace(configured, primary_site=site)
    if stored.role == "primary":
        return NodeRole("standby", stored.epoch, stored.primary_site)
    return NodeRole(stored.role, stored.epoch, stored.primary_site)


def _was_own(stored: NodeRole, site: str) -> bool:
    return stored.primary_site in (None, site)
