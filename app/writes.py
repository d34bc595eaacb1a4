"""The write path of a primary: validate, post once, replicate, then acknowledge.

Request tasks queue their write; the event loop then posts everything queued in **one**
database transaction (group commit), so writes never convoy on the unit's write lock.
The commit runs on the loop itself, not on a thread of its own: the requests that arrive
meanwhile wait in their sockets and make the next group, and no thread hand-off is paid
per write (docs/design.md §2, "group commit"; docs/benchmarks.md, twenty-first session).
Order of a new write (docs/design.md §2, §3):

1. in the group's transaction: check we are primary, look the key up (replay or
   409), refuse if too few standbys are reachable for the commit rule, decide, append
   the ledger rows and the journal entry together; check the lease; commit;
2. the request's task waits until the entry is durable by the commit rule (applied by
   either standby under ``any-standby``), at most ``ack_timeout_seconds``;
3. it checks the lease again; only then answers 201.

If step 2 or 3 fails the client gets 503 and the write is **not acknowledged**. The
entry stays committed locally: it is shipped when a standby is back, and a retry with
the same key answers it (200) once it is durable; it is never posted twice. If a
failover happens first and no standby has it, the new primary does not have it and
this instance discards it when it re-syncs (listed in ``discarded_entries``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from dataclasses import dataclass, field

from starlette.concurrency import run_in_threadpool

from app import journal
from app.database import Database
from app.errors import (
    IdempotencyConflictError,
    NotWritableError,
    QuorumCommitError,
    UnitError,
)
from app.gray_fault import GrayFault
from app.ledger import Posting, decide, request_hash
from app.node import Node
from app.protocol import Effect, WireEntry
from app.roles import NodeRole
from app.rows import Rows
from app.schemas import TransactionRequest, TransactionResult

log = logging.getLogger(__name__)
MAX_GROUP = 128


class LeaseLostError(Exception):
    """The lease turned invalid during a write."""


@dataclass
class _Pending:
    """A queued write and the future its request task awaits (on the same loop)."""

    customer_id: str
    key: str
    request: TransactionRequest
    fingerprint: str
    outcome: asyncio.Future[tuple[bool, TransactionResult]]


@dataclass
class _Appended:
    """What one group commit appended to the journal: its last lsn (the journal's before
    any), its entries as ``(lsn, wire JSON)`` and the epoch they were written at. Only
    the group commit appends to a primary's journal, so the lsns are counted here instead
    of asking the database for its newest one before every write."""

    last_lsn: int = 0
    epoch: int = 0
    entries: list[tuple[int, str]] = field(default_factory=list)

    def start(self, last_lsn: int, epoch: int) -> None:
        self.last_lsn, self.epoch = last_lsn, epoch

    def add(self, lsn: int, wire_json: str) -> None:
        self.last_lsn = lsn
        self.entries.append((lsn, wire_json))


class WritePath:
    """Posts transactions on a primary. ``stop()`` at the end. :meth:`post` is called
    from one event loop at a time (the unit service's)."""

    def __init__(
        self,
        node: Node,
        db: Database,
        credit_limit_minor: int,
        ack_timeout: float,
        gray: GrayFault | None = None,
    ):
        self._node = node
        self._gray = gray or GrayFault()
        self._db = db
        self._limit = credit_limit_minor
        self._ack_timeout = ack_timeout
        self._queue: list[_Pending] = []
        self._drain_scheduled = False
        self._stopped = False

    def stop(self) -> None:
        """Refuse new writes; writes still queued fail unwritten when their loop drains
        them (a drain is scheduled whenever the queue is not empty)."""
        self._stopped = True

    async def post(
        self, customer_id: str, key: str, request: TransactionRequest
    ) -> tuple[int, TransactionResult]:
        """Return ``(201, result)`` for a new write or ``(200, original)`` for a replay.

        Runs in the request's task: it waits for the group commit and for the standbys'
        acknowledgements without holding a thread."""
        if self._stopped:
            raise NotWritableError("the unit service is shutting down")
        role = self._node.role
        if role.role != "primary":
            # Answered without the database: a standby's write lock belongs to what it
            # applies (a catch-up in a thread), and the loop would wait for it. The check
            # inside the transaction still decides.
            _require_primary(self._node, role)
        loop = asyncio.get_running_loop()
        fingerprint = request_hash(customer_id, request)
        pending = _Pending(customer_id, key, request, fingerprint, loop.create_future())
        self._queue.append(pending)
        if not self._drain_scheduled:
            self._drain_scheduled = True
            loop.call_soon(self._drain)
        replay, result = await pending.outcome
        await self._await_durable(result.lsn)
        if replay:
            return 200, result
        if not self._node.lease.valid():
            # Fencing records the role in the database: off the event loop.
            await run_in_threadpool(self._node.fence, "primary lease no longer valid after commit")
            raise NotWritableError("lease lost before acknowledging; the write is not acknowledged")
        return 201, result

    # -- the group commit, on the loop ---------------------------------------------------

    def _drain(self) -> None:
        """Commit up to :data:`MAX_GROUP` queued writes in one transaction; the rest wait
        for the next drain. A write whose request was cancelled while it was queued (its
        client went away, the server is stopping) is dropped unwritten: it was never
        acknowledged."""
        self._drain_scheduled = False
        batch, self._queue = self._queue[:MAX_GROUP], self._queue[MAX_GROUP:]
        if self._queue:
            self._drain_scheduled = True
            asyncio.get_running_loop().call_soon(self._drain)
        taken = [pending for pending in batch if not pending.outcome.cancelled()]
        if self._stopped:
            _settle(taken, [NotWritableError("the unit service is shutting down")] * len(taken))
        elif taken:
            try:
                self._commit(taken)
            except Exception as exc:  # a bug must not leave the group's requests waiting
                log.exception("group commit of %d writes failed", len(taken))
                _settle(taken, [_internal(exc)] * len(taken))

    def _commit(self, batch: list[_Pending]) -> None:
        outcomes: list[tuple[bool, TransactionResult] | UnitError] = []
        appended = _Appended()
        try:
            with self._db.append() as rows:
                role = self._node.role
                appended.start(journal.last_lsn(rows), role.epoch)
                for pending in batch:
                    try:
                        outcomes.append(self._one(rows, role, pending, appended))
                    except UnitError as exc:
                        outcomes.append(exc)
                if appended.entries and not self._node.lease.valid():
                    raise LeaseLostError
        except LeaseLostError:
            appended = _Appended()  # rolled back
            self._node.fence("primary lease no longer valid")
            error = NotWritableError("this instance lost its primary lease and fenced itself")
            outcomes = [error] * len(batch)
        except Exception as exc:  # a failed transaction fails every write in it
            appended = _Appended()
            log.exception("group commit of %d writes failed", len(batch))
            outcomes = [exc if isinstance(exc, UnitError) else _internal(exc)] * len(batch)
        replicator = self._node.replicator
        if replicator is not None and appended.entries:
            replicator.notify_appended(appended.last_lsn, appended.entries, epoch=appended.epoch)
        _settle(batch, outcomes)

    def _one(
        self, rows: Rows, role: NodeRole, pending: _Pending, appended: _Appended
    ) -> tuple[bool, TransactionResult]:
        _require_primary(self._node, role)
        record = journal.idempotency_record(rows, pending.key)
        if record is not None:
            stored_hash, response, _lsn = record
            if stored_hash != pending.fingerprint:
                raise IdempotencyConflictError(
                    f"Idempotency-Key {pending.key!r} was already used with a different request"
                )
            return True, TransactionResult.model_validate(json.loads(response))
        replicator = self._node.replicator
        down = replicator.down_reason() if replicator is not None else None
        if down is not None:
            raise QuorumCommitError(f"{down}; nothing was written")
        entry = self._new_entry(rows, role, pending, appended.last_lsn + 1)
        appended.add(entry.lsn, journal.apply_entry(rows, entry))
        return False, entry.response

    def _new_entry(self, rows: Rows, role: NodeRole, pending: _Pending, lsn: int) -> WireEntry:
        request, customer_id = pending.request, pending.customer_id
        limit, available = journal.account_balance(rows, customer_id) or (self._limit,) * 2
        posting = decide(request.type, request.amount_minor, available)
        if self._gray.declines():  # the gray-failure drill: a business decline, all else as usual
            posting = Posting("declined", 0, available)
        transaction_id = uuid.uuid4().hex
        settings = self._node.settings
        effect = Effect(
            customer_id=customer_id,
            transaction_id=transaction_id,
            type=request.type,
            amount_minor=request.amount_minor,
            currency=request.currency,
            merchant=request.merchant,
            status=posting.status,
            delta_minor=posting.delta_minor,
            credit_limit_minor=limit,
            available_after_minor=posting.available_after_minor,
        )
        result = TransactionResult(
            transaction_id=transaction_id,
            customer_id=customer_id,
            unit=settings.unit,
            site=settings.site,
            epoch=role.epoch,
            lsn=lsn,
            status=posting.status,
            available_credit_minor=posting.available_after_minor,
        )
        return WireEntry(
            lsn=lsn,
            epoch=role.epoch,
            idempotency_key=pending.key,
            request_hash=pending.fingerprint,
            payload=effect,
            response=result,
        )

    async def _await_durable(self, lsn: int) -> None:
        replicator = self._node.replicator
        if replicator is None:
            raise NotWritableError("this instance stopped being the primary; not acknowledged")
        failure = await replicator.wait_durable_async(lsn, self._ack_timeout)
        if failure is not None:
            raise QuorumCommitError(f"{failure}; the write is not acknowledged")


def _settle(
    batch: list[_Pending], outcomes: list[tuple[bool, TransactionResult] | UnitError]
) -> None:
    """Hand each request its outcome, unless it stopped waiting (a committed write then
    stays unacknowledged; a retry with its key answers it once it is durable)."""
    for pending, outcome in zip(batch, outcomes, strict=True):
        if pending.outcome.done():
            continue
        if isinstance(outcome, UnitError):
            pending.outcome.set_exception(outcome)
        else:
            pending.outcome.set_result(outcome)


def _require_primary(node: Node, role: NodeRole) -> None:
    if role.role != "primary":
        where = f"; the primary is {role.primary_site}" if role.primary_site else ""
        reason = f" ({node.fence_reason})" if node.fence_reason else ""
        raise NotWritableError(f"this instance is {role.role} at epoch {role.epoch}{reason}{where}")


def _internal(exc: Exception) -> UnitError:
    return UnitError(f"the write failed: {type(exc).__name__}; see the unit service log")
