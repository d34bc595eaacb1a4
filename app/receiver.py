"""The standby side of journal replication, and catching up from another copy.

A primary must handshake at its epoch before its entries are accepted; the handshake is
where a demoted former primary (or any diverged standby) throws away the entries the new
primary does not have, recording them in ``discarded_entries``. Entries are then
applied idempotently and strictly in order; a batch that starts past our last lsn is
answered ``gap`` with our applied lsn so the primary resends from there.

Catching up (``absorb``) is the same rule with another copy as the source: while no
primary ships to this instance (the controller promotes it next), it takes the entries a
more advanced copy has, discarding first what that copy does not hold. It refuses a
source whose journal ranks below its own (docs/design.md §3): that could discard an
acknowledged write.
"""

from __future__ import annotations

import json
import threading

from app import journal
from app.database import Database
from app.errors import (
    HandshakeRequiredError,
    InvalidRequestError,
    RoleConflictError,
    StaleEpochError,
    UnavailableError,
)
from app.node import Node
from app.protocol import (
    ApplyRequest,
    ApplyResult,
    ExportRequest,
    ExportResult,
    HandshakeRequest,
    HandshakeResult,
    first_divergent_lsn,
    position,
)
from app.rows import Rows


class Receiver:
    """Handles ``/replication/handshake`` and ``/replication/entries``."""

    def __init__(self, node: Node, db: Database) -> None:
        self._node = node
        self._db = db
        self._synced_with: tuple[int, str] | None = None
        self._lock = threading.Lock()
        self._closed = False

    def close(self) -> None:
        """Apply nothing more: waits for a shipment being applied, then every later one
        is answered 503 (the service is stopping; the primary ships again elsewhere or
        later). Call before the database is disposed."""
        with self._lock:
            self._closed = True

    def handshake(self, request: HandshakeRequest) -> HandshakeResult:
        """Follow the primary at ``request.epoch``, discarding what diverges from it."""
        if request.primary_site == self._node.settings.site:
            raise InvalidRequestError("a primary cannot replicate to itself")
        with self._lock:
            self._require_open()
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
            return self._apply(request)

    def apply_now(self, request: ApplyRequest) -> ApplyResult | None:
        """:meth:`apply`, unless another thread holds the receiver (a handshake, a
        catch-up that may apply thousands of entries): then None at once, without
        waiting, so a caller on the event loop never waits for it."""
        if not self._lock.acquire(blocking=False):
            return None
        try:
            return self._apply(request)
        finally:
            self._lock.release()

    def _require_open(self) -> None:
        if self._closed:
            raise UnavailableError("the unit service is shutting down; ship again")

    def _apply(self, request: ApplyRequest) -> ApplyResult:
        self._require_open()
        if self._synced_with != (request.epoch, request.primary_site):
            self._node.observe_epoch(request.epoch, request.primary_site)  # stale -> 409
            raise HandshakeRequiredError(
                f"handshake first: no handshake from {request.primary_site} "
                f"at epoch {request.epoch} since this instance started"
            )
        if not request.entries:
            # A heartbeat: nothing to write, so no write transaction, and the journal
            # position the observers' probes cache stays valid (app/queries.py).
            _assert_follower(self._node, request.epoch)
            with self._db.query() as rows:
                applied = journal.last_lsn(rows)
            return ApplyResult(status="applied", applied_lsn=applied, epoch=request.epoch)
        with self._db.append() as rows:
            _assert_follower(self._node, request.epoch)
            applied = journal.last_lsn(rows)
            for entry in request.entries:
                if entry.epoch > request.epoch:
                    raise InvalidRequestError(f"entry {entry.lsn} has a future epoch {entry.epoch}")
                if entry.lsn <= applied:
                    continue
                if entry.lsn != applied + 1:
                    return ApplyResult(status="gap", applied_lsn=applied, epoch=request.epoch)
                journal.apply_entry(rows, entry)
                applied = entry.lsn
        return ApplyResult(status="applied", applied_lsn=applied, epoch=request.epoch)

    def export(self, request: ExportRequest) -> str:
        """This copy's journal shape and up to ``limit`` entries above ``after_lsn``, as
        the JSON of an :class:`ExportResult` (entries are not parsed again here)."""
        with self._db.read() as session:
            body = journal.entries_json_after(session, request.after_lsn, request.limit)
            ranges = journal.epoch_ranges(session)
            last = journal.last_lsn(session)
        shape = json.dumps([r.model_dump() for r in ranges])
        return f'{{"last_lsn":{last},"epoch_ranges":{shape},"entries":[{",".join(body)}]}}'

    def absorb(self, source_site: str, epoch: int, source: ExportResult) -> tuple[int, int]:
        """Discard what ``source`` does not hold, then apply its entries that follow ours
        without a gap. Returns ``(discarded, applied)``. Refused on a primary, above
        ``epoch``, or when ``source`` ranks below this copy."""
        with self._lock:
            self._require_open()
            with self._db.write() as session:
                _assert_catching_up(self._node, epoch)
                local = journal.epoch_ranges(session)
                if position(source.epoch_ranges) < position(local):
                    raise RoleConflictError(
                        f"{source_site} holds {position(source.epoch_ranges)} (epoch, lsn), "
                        f"behind this copy's {position(local)}: catching up from it could "
                        "discard an acknowledged write"
                    )
                first = first_divergent_lsn(local, source.epoch_ranges, source.last_lsn)
                discarded = 0
                if first is not None:
                    reason = f"not in the more advanced copy at {source_site} (catch-up)"
                    discarded = journal.discard_from(session, first, for_epoch=epoch, reason=reason)
                rows = Rows.of(session)  # once, after the ORM discards above
                applied, count = journal.last_lsn(rows), 0
                for entry in source.entries:
                    if entry.lsn <= applied:
                        continue
                    if entry.lsn != applied + 1:
                        break
                    journal.apply_entry(rows, entry)
                    applied, count = entry.lsn, count + 1
            # Whatever primary shipped to us before must handshake again: our journal
            # changed behind its back.
            self._synced_with = None
        return discarded, count


def _assert_catching_up(node: Node, epoch: int) -> None:
    role = node.role
    if role.role == "primary":
        raise RoleConflictError("a primary owns its journal; it does not catch up")
    if role.epoch > epoch:
        raise StaleEpochError(
            f"this instance is at epoch {role.epoch}, newer than {epoch}",
            extra={"epoch": role.epoch},
        )


def _assert_follower(node: Node, epoch: int) -> None:
    # Checked inside the write transaction: a promotion cannot slip in between.
    role = node.role
    if role.role == "primary" or role.epoch != epoch:
        raise HandshakeRequiredError(
            f"this instance is {role.role} at epoch {role.epoch}; handshake again"
        )
