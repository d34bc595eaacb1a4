"""The standby side of journal replication.

A primary must handshake at its epoch before its entries are accepted; the handshake is
where a demoted former primary (or any diverged standby) throws away the entries the new
primary does not have, recording them in ``discarded_entries``. Entries are then
applied idempotently and strictly in order; a batch that starts past our last lsn is
answered ``gap`` with our applied lsn so the primary resends from there.
"""

from __future__ import annotations

import threading

from app import journal
from app.database import Database
from app.errors import HandshakeRequiredError, InvalidRequestError
from app.node import Node
from app.protocol import (
    ApplyRequest,
    ApplyResult,
    HandshakeRequest,
    HandshakeResult,
    first_divergent_lsn,
)


class Receiver:
    """Handles ``/replication/handshake`` and ``/replication/entries``."""

    def __init__(self, node: Node, db: Database) -> None:
        self._node = node
        self._db = db
        self._synced_with: tuple[int, str] | None = None
        self._lock = threading.Lock()

    def handshake(self, request: HandshakeRequest) -> HandshakeResult:
        """Follow the primary at ``request.epoch``, discarding what diverges from it."""
        if request.primary_site == self._node.settings.site:
            raise InvalidRequestError("a primary cannot replicate to itself")
        with self._lock:
            self._node.observe_epoch(request.epoch, request.primary_site)
            with self._db.write() as session:
                _assert_follower(self._node, request.epoch)
                local = journal.epoch_ranges(session)
                first = first_divergent_lsn(local, request.epoch_ranges, request.last_lsn)
                discarded = 0
                if first is not None:
                    reason = (
                        f"not in the journal of primary {request.primary_site} "
                        f"at epoch {request.epoch}"
                    )
                    discarded = journal.discard_from(
                        session, first, for_epoch=request.epoch, reason=reason
                    )
                applied = journal.last_lsn(session)
            self._synced_with = (request.epoch, request.primary_site)
        return HandshakeResult(applied_lsn=applied, epoch=request.epoch, discarded=discarded)

    def apply(self, request: ApplyRequest) -> ApplyResult:
        """Apply a batch in order; skip what we have; stop at a gap."""
        with self._lock:
            if self._synced_with != (request.epoch, request.primary_site):
                self._node.observe_epoch(request.epoch, request.primary_site)  # stale -> 409
                raise HandshakeRequiredError(
                    f"handshake first: no handshake from {request.primary_site} "
                    f"at epoch {request.epoch} since this instance started"
                )
            with self._db.write() as session:
                _assert_follower(self._node, request.epoch)
                applied = journal.last_lsn(session)
                for entry in request.entries:
                    if entry.epoch > request.epoch:
                        raise InvalidRequestError(
                            f"entry {entry.lsn} has a future epoch {entry.epoch}"
                        )
                    if entry.lsn <= applied:
                        continue
                    if entry.lsn != applied + 1:
                        return ApplyResult(status="gap", applied_lsn=applied, epoch=request.epoch)
                    journal.apply_entry(session, entry)
                    applied = entry.lsn
        return ApplyResult(status="applied", applied_lsn=applied, epoch=request.epoch)


def _assert_follower(node: Node, epoch: int) -> None:
    # Checked inside the write transaction: a promotion cannot slip in between.
    role = node.role
    if role.role == "primary" or role.epoch != epoch:
        raise HandshakeRequiredError(
            f"this instance is {role.role} at epoch {role.epoch}; handshake again"
        )
