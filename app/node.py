"""This instance's role, epoch and lease, and the replicator it runs while primary.

Role changes go through one lock and are persisted (``node_state``) inside the unit's
write transaction, so a write sees either the old role or the new one, never a mix.
Lock order: node lock, then the database write lock; never the other way round.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import replace
from functools import partial

from sqlalchemy.orm import Session

from app import journal
from app.database import Database
from app.errors import InvalidRequestError, LeaseRefusedError, RoleConflictError, StaleEpochError
from app.lease import LeaseUnavailable, PrimaryLease
from app.models import NODE_STATE_ID, NodeStateRow
from app.protocol import HandshakeRequest
from app.replication import LinkConfig, Replicator
from app.roles import NodeRole, Role, RoleRequest, change_role
from app.settings import UnitSettings
from failover.credentials import Credentials
from failover.credentials import Role as CredentialRole
from failover.topology import Topology

log = logging.getLogger(__name__)
#: A shipment or handshake that takes longer fails and the link reconnects. Only the
#: link's health depends on it: writes wait at most the topology's ack timeout.
LINK_TIMEOUT_SECONDS = 3.0


class Node:
    """Owns the role state machine of one unit instance."""

    def __init__(
        self,
        settings: UnitSettings,
        topology: Topology,
        db: Database,
        lease: PrimaryLease,
        credentials: Credentials,
    ) -> None:
        self.settings = settings
        self.topology = topology
        self.db = db
        self.lease = lease
        self._credentials = credentials
        self._lock = threading.RLock()
        self._role = NodeRole("standby", 0, None)
        self.replicator: Replicator | None = None
        self.fence_reason: str | None = None

    @property
    def role(self) -> NodeRole:
        return self._role

    # -- lifecycle ----------------------------------------------------------------------

    def start(self, initial: NodeRole) -> None:
        """Take ``initial`` (already decided by :func:`app.roles.role_at_start`)."""
        with self._lock:
            if initial.role == "primary":
                self._check_peers(initial)
                try:
                    self.lease.acquire(self.settings.unit, self.settings.site, initial.epoch)
                except LeaseUnavailable as exc:
                    log.warning("starting as standby: primary lease unavailable: %s", exc)
                    initial = NodeRole("standby", initial.epoch, None)
            self._commit_role(initial, announce=False)  # the service says how it started

    def stop(self) -> None:
        with self._lock:
            self._stop_replicator()
            self.lease.release()

    def load_stored(self) -> NodeRole | None:
        with self.db.read() as session:
            row = session.get(NodeStateRow, NODE_STATE_ID)
            if row is None:
                return None
            standbys = tuple(json.loads(row.standbys))
            role: Role = "primary" if row.role == "primary" else _as_role(row.role)
            return NodeRole(role, row.epoch, row.primary_site, standbys, row.acks_required)

    # -- role changes -------------------------------------------------------------------

    def change(self, request: RoleRequest) -> NodeRole:
        """Apply ``POST /admin/role``; raises when the change is refused."""
        with self._lock:
            site = self.settings.site
            new = change_role(self._role, request, site, self.topology.standbys_of(site))
            if new.role == "primary":
                self._check_peers(new)
            already_primary = self._role.role == "primary" and self._role.epoch == new.epoch
            if new.role == "primary" and not already_primary:
                try:
                    self.lease.acquire(self.settings.unit, self.settings.site, new.epoch)
                except LeaseUnavailable as exc:
                    raise LeaseRefusedError(f"cannot take the primary lease: {exc}") from exc
            if new.role != "primary":
                self.fence_reason = None if new.role == "standby" else "fenced by /admin/role"
            self._commit_role(new)
            return new

    def fence(self, reason: str) -> None:
        """Stop accepting writes now (lease lost, newer epoch seen). Idempotent."""
        with self._lock:
            if self._role.role != "primary":
                return
            log.error("fencing myself: %s", reason)
            self.fence_reason = reason
            self._commit_role(replace(self._role, role="fenced"))

    def observe_epoch(self, epoch: int, primary_site: str) -> None:
        """A primary at ``epoch`` handshakes with us: refuse it, or follow it."""
        with self._lock:
            current = self._role
            if epoch < current.epoch:
                raise StaleEpochError(
                    f"this instance is at epoch {current.epoch}; {primary_site} sent epoch {epoch}",
                    extra={"epoch": current.epoch},
                )
            if epoch == current.epoch and current.primary_site not in (None, primary_site):
                raise RoleConflictError(
                    f"epoch {epoch} belongs to {current.primary_site}, not {primary_site}",
                    extra={"epoch": current.epoch},
                )
            if current.role == "primary" or epoch > current.epoch or current.primary_site is None:
                # A newer primary exists: step down; a fenced node may follow it too.
                self.fence_reason = None
                self._commit_role(NodeRole("standby", epoch, primary_site))

    # -- internals ----------------------------------------------------------------------

    def _commit_role(self, new: NodeRole, *, announce: bool = True) -> None:
        """Persist ``new``, then take it: if the write fails, nothing changed. With
        ``announce``, a change of role or epoch is logged."""
        old = self._role
        with self.db.write() as session:
            _persist(session, new)
        self._role = new
        if announce and (old.role, old.epoch) != (new.role, new.epoch):
            # After the swap, so the record's epoch field is already the new one.
            log.info("now %s at epoch %d (was %s at epoch %d)", new.role, new.epoch,
                     old.role, old.epoch)  # fmt: skip
        if old.role == "primary" and not _same_primary(old, new):
            self._stop_replicator(wait=False)
        if old.role == "primary" and new.role != "primary":
            self.lease.release()
        if new.role == "primary" and (self.replicator is None or not _same_primary(old, new)):
            self._start_replicator(new)

    def _start_replicator(self, role: NodeRole) -> None:
        self._stop_replicator(wait=False)
        with self.db.read() as session:
            last = journal.last_lsn(session)
        links = [self._link(site, role) for site in role.standbys]
        acks = self.topology.replication.acks_needed
        if role.acks_required is not None:
            acks = role.acks_required
        self.replicator = Replicator(links, last, acks, epoch=role.epoch)
        self.replicator.start(_DatabaseSource(self.db, role, self.settings.site), self._on_stale)

    def _stop_replicator(self, *, wait: bool = True) -> None:
        replicator, self.replicator = self.replicator, None
        if replicator is not None:
            replicator.stop(wait=wait)

    def _check_peers(self, role: NodeRole) -> None:
        for site in role.standbys:
            if site not in self.settings.peers:
                known = ", ".join(sorted(self.settings.peers)) or "none"
                raise InvalidRequestError(f"no peer URL for standby site {site!r} (peers: {known})")

    def _link(self, site: str, role: NodeRole) -> LinkConfig:
        replication = self.topology.replication
        return LinkConfig(
            site=site,
            url=self.settings.peers[site],
            authorization=partial(self._credentials.authorization, CredentialRole.REPLICATION),
            epoch=role.epoch,
            primary_site=self.settings.site,
            batch_size=replication.batch_size,
            heartbeat_seconds=replication.heartbeat_seconds,
            timeout_seconds=max(LINK_TIMEOUT_SECONDS, replication.ack_timeout_seconds),
        )

    def _on_stale(self, epoch: int, detail: str) -> None:
        # Called on a link thread, possibly one of a replicator already replaced (links
        # are not joined on a role change), so fence only if that epoch is still newer.
        reason = f"a standby knows newer epoch {epoch}: {detail}"
        threading.Thread(
            target=self._fence_if_behind, args=(epoch, reason), name="fence", daemon=True
        ).start()

    def _fence_if_behind(self, epoch: int, reason: str) -> None:
        with self._lock:
            if self._role.epoch < epoch:
                self.fence(reason)


class _DatabaseSource:
    """The primary's journal as the links read it."""

    def __init__(self, db: Database, role: NodeRole, site: str) -> None:
        self._db = db
        self._role = role
        self._site = site

    def entries_after(self, lsn: int, limit: int) -> list[str]:
        with self._db.query() as rows:
            return journal.entries_json_after(rows, lsn, limit)

    def handshake_request(self) -> HandshakeRequest:
        with self._db.read() as session:
            return HandshakeRequest(
                epoch=self._role.epoch,
                primary_site=self._site,
                last_lsn=journal.last_lsn(session),
                epoch_ranges=journal.epoch_ranges(session),
            )


def _same_primary(old: NodeRole, new: NodeRole) -> bool:
    return (
        old.role == new.role == "primary"
        and old.epoch == new.epoch
        and old.standbys == new.standbys
        and old.acks_required == new.acks_required
    )


def _as_role(value: str) -> Role:
    return "fenced" if value == "fenced" else "standby"


def _persist(session: Session, role: NodeRole) -> None:
    row = session.get(NodeStateRow, NODE_STATE_ID)
    if row is None:
        row = NodeStateRow(id=NODE_STATE_ID)
        session.add(row)
    row.role = role.role
    row.epoch = role.epoch
    row.primary_site = role.primary_site
    row.standbys = json.dumps(list(role.standbys))
    row.acks_required = role.acks_required
    row.updated_at = time.time()
