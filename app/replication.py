"""Journal shipping from a primary to its standbys, and the commit rule.

One :class:`StandbyLink` thread per standby (one in each other site, docs/design.md §2).
A link first sends a handshake (the standby discards whatever diverges from this
primary's journal and says which lsn it has applied), then ships everything not yet
applied as soon as a write commits, up to ``batch_size`` entries per request (group
commit). Each answer carries the standby's applied lsn.

Commit rule: the primary's **durable** position is the highest lsn that at least
``acks_needed`` standbys have applied (``any-standby``: 1, so with the primary's own
copy a write is on two of the three sites; ``all-standbys``: 2). Writers wait, up to the
topology's ``ack_timeout_seconds``, until their lsn is durable. Whichever standby
applies first acknowledges: normally the one in the same city, and the remote one when
the city link is cut, at WAN latency, with no reconfiguration.

A primary keeps its newest committed entries, serialized once, for the links
(:meth:`Replicator.recent_after`): a link that keeps up ships from memory, one further
behind reads the database. Only committed entries of this replicator's epoch get there,
without a gap, so what a link ships from memory is what the database holds.

Any failure drops the link back to the handshake step, retried with backoff (tenacity),
and marks it down; while fewer than ``acks_needed`` links are not known down, writes
fail fast with 503 before anything is written. A standby answering ``stale_epoch``
means a newer primary exists: the link calls ``on_stale_epoch`` (the node fences
itself) and stops.
"""

from __future__ import annotations

import asyncio
import enum
import itertools
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Protocol

from tenacity import (
    RetryError,
    Retrying,
    retry_if_exception_type,
    wait_exponential,
)

from app.protocol import ApplyResult, HandshakeRequest, HandshakeResult
from failover.keepalive_http import KeepAliveClient, NoAnswerError
from failover.tls import client_context

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 0.5
#: How many of its newest committed entries a primary keeps for its links (a few hundred
#: bytes each). At a few hundred writes a second a unit's links are a batch or two behind,
#: so this covers them with room to spare; a link further behind reads the database.
RECENT_ENTRIES = 1024


class _Verdict(enum.Enum):
    WAIT = "not decided yet"


_WAIT = _Verdict.WAIT
"""A commit wait's verdict while it is not decided yet."""


class JournalSource(Protocol):
    """What a link reads from the primary's database."""

    def entries_after(self, lsn: int, limit: int) -> list[str]:
        """Up to ``limit`` entries above ``lsn`` as JSON objects (see WireEntry)."""
        ...

    def handshake_request(self) -> HandshakeRequest: ...


class ShipError(Exception):
    """A shipment or handshake did not go through; the link will retry."""


class HandshakeNeededError(ShipError):
    """The standby lost our handshake (it restarted): handshake again, no outage."""


class StaleEpochSeenError(Exception):
    """The standby knows a newer epoch than ours."""

    def __init__(self, epoch: int, detail: str) -> None:
        super().__init__(detail)
        self.epoch = epoch


@dataclass(frozen=True)
class LinkConfig:
    """Where and how to ship to one standby."""

    site: str
    url: str
    authorization: Callable[[], Mapping[str, str]] = field(repr=False)
    """The header presenting the current replication token, looked up per shipment."""
    epoch: int
    primary_site: str
    batch_size: int
    heartbeat_seconds: float
    timeout_seconds: float


@dataclass(frozen=True)
class LinkStatus:
    """What ``/v1/unit`` shows about a standby."""

    site: str
    applied_lsn: int | None
    healthy: bool | None
    last_error: str | None


class Replicator:
    """The set of links of one primary at one epoch, and the writers' commit wait."""

    def __init__(
        self, links: list[LinkConfig], last_lsn: int, acks_needed: int, *, epoch: int
    ) -> None:
        self.epoch = epoch
        self._recent: deque[tuple[int, str]] = deque(maxlen=RECENT_ENTRIES)
        self._acks = threading.Condition()  # writers wait here for standby acknowledgements
        self._waiting: list[_Waiter] = []  # writers' tasks, each until its write is decided
        self._work = threading.Condition()  # idle links wait here for new entries
        self._stopped = False
        self._last_lsn = last_lsn
        # Never more acknowledgements than there are standbys; 0 only when asked for (a
        # declared disaster) or when there is no standby at all.
        self.acks_needed = min(acks_needed, len(links))
        self._links = {config.site: StandbyLink(config, self) for config in links}

    def start(self, source: JournalSource, on_stale_epoch: Callable[[int, str], None]) -> None:
        for link in self._links.values():
            link.start_thread(source, on_stale_epoch)

    def stop(self, *, wait: bool = True) -> None:
        """Stop every link and wake waiting writers (they fail). Safe from a link thread.

        ``wait=False`` returns without joining the link threads: a role change must not
        sit out a link's in-flight request to a dead standby (up to its timeout) while
        the unit refuses writes. A stopped link starts no new request, and whatever its
        last request delivers is harmless: standbys apply entries idempotently and in
        order, and its acknowledgements reach only this (stopped) replicator.
        """
        self._stopped = True
        self.progress()  # waiting writers, threads and tasks alike, see the stop and fail
        with self._work:
            self._work.notify_all()
        for link in self._links.values():
            link.stop()
        if wait:
            for link in self._links.values():
                link.join()

    @property
    def stopped(self) -> bool:
        return self._stopped

    def notify_appended(
        self, lsn: int, entries: Sequence[tuple[int, str]] = (), *, epoch: int | None = None
    ) -> None:
        """A transaction committed, up to ``lsn``: wake the links.

        ``entries`` are that transaction's entries as ``(lsn, wire JSON)``, in lsn order,
        written at ``epoch``; they are kept for :meth:`recent_after` only when ``epoch`` is
        this replicator's and they follow the kept ones without a gap (else the kept ones
        are dropped and the new ones start afresh). Call only after the commit."""
        with self._work:
            if entries and epoch == self.epoch:
                if self._recent and entries[0][0] != self._recent[-1][0] + 1:
                    self._recent.clear()
                self._recent.extend(entries)
            self._last_lsn = max(self._last_lsn, lsn)
            self._work.notify_all()

    def recent_after(self, lsn: int, limit: int) -> list[str] | None:
        """Up to ``limit`` kept entries from ``lsn + 1`` on; none when nothing after ``lsn``
        has been committed (as far as :meth:`notify_appended` was told, which is what a
        link waits on); None when ``lsn + 1`` is not among the kept ones (the caller reads
        the database instead)."""
        with self._work:
            if lsn >= self._last_lsn:
                return []
            if not self._recent or not self._recent[0][0] <= lsn + 1 <= self._recent[-1][0]:
                return None
            start = lsn + 1 - self._recent[0][0]
            return [entry for _, entry in itertools.islice(self._recent, start, start + limit)]

    def durable_lsn(self) -> int:
        """The highest lsn applied by at least ``acks_needed`` standbys (0: none yet)."""
        if self.acks_needed == 0:
            return self._last_lsn
        applied = sorted((link.applied_lsn or 0 for link in self._links.values()), reverse=True)
        return applied[self.acks_needed - 1]

    def wait_durable(self, lsn: int, timeout: float) -> str | None:
        """Wait until ``lsn`` is durable by the commit rule. None on success, else why not."""
        deadline = time.monotonic() + timeout
        with self._acks:
            while (verdict := self._verdict(lsn, timeout, deadline - time.monotonic())) is _WAIT:
                self._acks.wait(deadline - time.monotonic())
        return verdict

    async def wait_durable_async(self, lsn: int, timeout: float) -> str | None:
        """:meth:`wait_durable` for a task on an event loop: the task waits, no thread
        does. The task registers a future under the same lock :meth:`progress` decides
        under, so a decision is never missed; a link's thread decides it once, and one
        ``call_soon_threadsafe`` per acknowledgement settles every future it decided
        (rather than waking every waiting task to look again)."""
        loop = asyncio.get_running_loop()
        with self._acks:
            verdict = self._verdict(lsn, timeout, timeout)
            if verdict is not _WAIT:
                return verdict
            waiter = _Waiter(lsn, loop, loop.create_future())
            self._waiting.append(waiter)
        try:
            return await asyncio.wait_for(waiter.outcome, timeout)
        except TimeoutError:
            verdict = self._verdict(lsn, timeout, 0.0)
            assert verdict is not _WAIT  # no time remains
            return verdict
        finally:
            with self._acks, suppress(ValueError):  # ValueError: decided, taken off already
                self._waiting.remove(waiter)

    def _verdict(self, lsn: int, timeout: float, remaining: float) -> str | _Verdict | None:
        """None when ``lsn`` is durable, why it cannot be, or :data:`_WAIT`."""
        verdict = self._decision(lsn, self.durable_lsn(), self.down_reason())
        if verdict is _WAIT and remaining <= 0:
            return (
                f"{self.acks_needed} of {len(self._links)} standbys did not confirm "
                f"within {timeout} s"
            )
        return verdict

    def _decision(self, lsn: int, durable: int, down: str | None) -> str | _Verdict | None:
        """:meth:`_verdict` before any deadline, given the durable lsn and the down reason
        (taken once by :meth:`progress` for all its waiters)."""
        if self._stopped:
            return "replication stopped: this instance is no longer the primary"
        if durable >= lsn:
            return None
        return down if down is not None else _WAIT

    def down_reason(self) -> str | None:
        """Why writes must be refused right now, or None: fewer standbys than the commit
        rule needs are still possibly reachable. Unknown (not tried yet) is not down."""
        down = [link for link in self._links.values() if link.healthy is False]
        if len(self._links) - len(down) >= self.acks_needed:
            return None
        detail = "; ".join(f"{link.config.site}: {link.last_error}" for link in down)
        return f"{len(down)} of {len(self._links)} standbys unreachable ({detail})"

    def statuses(self) -> list[LinkStatus]:
        return [link.status() for link in self._links.values()]

    # -- used by the links --------------------------------------------------------------

    def wait_for_work(self, link: StandbyLink) -> bool:
        """Block a link until there is something to ship (True) or a heartbeat interval
        has passed (False)."""
        with self._work:
            return self._work.wait_for(
                lambda: self._stopped or self._last_lsn > (link.applied_lsn or 0),
                timeout=link.config.heartbeat_seconds,
            )

    def progress(self) -> None:
        """A link's position or health changed: threads waiting look again, and every
        waiting task whose write this decides is settled on its loop."""
        with self._acks:
            self._acks.notify_all()
            if not self._waiting:
                return
            settled: dict[asyncio.AbstractEventLoop, list[tuple[_Waiter, str | None]]] = {}
            still: list[_Waiter] = []
            # A task's own deadline is its business (wait_for): no timeout decided here.
            durable, down = self.durable_lsn(), self.down_reason()
            for waiter in self._waiting:
                verdict = self._decision(waiter.lsn, durable, down)
                if verdict is _WAIT:
                    still.append(waiter)
                else:
                    settled.setdefault(waiter.loop, []).append((waiter, verdict))
            self._waiting = still
        for loop, decided in settled.items():
            with suppress(RuntimeError):  # the loop closed: nobody waits any more
                loop.call_soon_threadsafe(_settle, decided)


@dataclass(eq=False)
class _Waiter:
    """A task waiting on its loop for ``lsn`` to be durable."""

    lsn: int
    loop: asyncio.AbstractEventLoop
    outcome: asyncio.Future[str | None]


def _settle(decided: list[tuple[_Waiter, str | None]]) -> None:
    """On the waiters' loop: hand each its verdict, unless it stopped waiting."""
    for waiter, verdict in decided:
        if not waiter.outcome.done():
            waiter.outcome.set_result(verdict)


class StandbyLink:
    """Ships the journal to one standby from its own thread."""

    def __init__(self, config: LinkConfig, owner: Replicator) -> None:
        self.config = config
        self._owner = owner
        self.applied_lsn: int | None = None
        self.healthy: bool | None = None
        self.last_error: str | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def status(self) -> LinkStatus:
        return LinkStatus(self.config.site, self.applied_lsn, self.healthy, self.last_error)

    def start_thread(self, source: JournalSource, on_stale: Callable[[int, str], None]) -> None:
        self._thread = threading.Thread(
            target=self._run, args=(source, on_stale), name=f"ship-{self.config.site}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def join(self) -> None:
        self.stop()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=self.config.timeout_seconds + 5)

    def _run(self, source: JournalSource, on_stale: Callable[[int, str], None]) -> None:
        timeout = self.config.timeout_seconds
        client = KeepAliveClient(timeout, timeout, tls=client_context())
        try:
            while not self._stopping():
                if self._connect(client, source):
                    self._ship_until_error(client, source)
        except StaleEpochSeenError as exc:
            self._mark_down(f"newer epoch {exc.epoch} at {self.config.site}")
            on_stale(exc.epoch, str(exc))
        except Exception:  # a bug must not silently kill replication: log, mark down
            log.exception("replication link to %s crashed", self.config.site)
            self._mark_down("replication link crashed; see the log")
        finally:
            client.close()

    def _sleep(self, seconds: float) -> None:
        self._stop.wait(seconds)

    def _stopping(self) -> bool:
        return self._stop.is_set() or self._owner.stopped

    def _connect(self, client: KeepAliveClient, source: JournalSource) -> bool:
        retrying = Retrying(
            retry=retry_if_exception_type(ShipError),
            wait=wait_exponential(multiplier=0.05, max=MAX_BACKOFF_SECONDS),
            stop=lambda _state: self._stopping(),
            sleep=self._sleep,
            before_sleep=lambda state: self._mark_down(
                str(state.outcome and state.outcome.exception())
            ),
        )
        try:
            for attempt in retrying:
                with attempt:
                    handshake = source.handshake_request().model_dump_json()
                    result = HandshakeResult.model_validate(
                        self._post(client, "/replication/handshake", handshake)
                    )
        except RetryError:
            return False
        self.applied_lsn = result.applied_lsn
        self._mark_up()
        return True

    def _ship_until_error(self, client: KeepAliveClient, source: JournalSource) -> None:
        c = self.config
        # The database itself is read after a handshake and after every quiet heartbeat
        # interval: an entry committed while this replicator was being set up was never
        # announced to it, and would otherwise wait for the next write to be shipped.
        ask_database = True
        while not self._stopping():
            after = self.applied_lsn or 0
            entries = None if ask_database else self._owner.recent_after(after, c.batch_size)
            if entries is None:
                entries = source.entries_after(after, c.batch_size)
            if not entries:
                ask_database = not self._owner.wait_for_work(self)
                continue
            ask_database = False
            # The body of an ApplyRequest, assembled from already-serialized entries.
            header = f'{{"epoch":{c.epoch},"primary_site":{json.dumps(c.primary_site)},"entries":['
            body = header + ",".join(entries) + "]}"
            try:
                result = ApplyResult.model_validate(
                    self._post(client, "/replication/entries", body)
                )
            except HandshakeNeededError:
                return  # straight back to the handshake; only its failure marks us down
            except ShipError as exc:
                self._mark_down(str(exc))
                return
            self.applied_lsn = result.applied_lsn
            self._mark_up()

    def _mark_up(self) -> None:
        self.healthy, self.last_error = True, None
        self._owner.progress()

    def _mark_down(self, reason: str) -> None:
        self.healthy, self.last_error = False, reason
        self._owner.progress()

    def _post(self, client: KeepAliveClient, path: str, content: str) -> object:
        """POST to the standby; its JSON answer, or the error it means (module docstring).
        Both endpoints are idempotent: the client may send a shipment again on a fresh
        connection when the kept one turns out closed."""
        headers = {**_JSON, **self.config.authorization()}
        try:
            status, answer = client.request(
                "POST", self.config.url + path, body=content.encode(), headers=headers
            )
        except NoAnswerError as exc:
            raise ShipError(f"{type(exc).__name__}: {exc}") from exc
        if status == 200:
            try:
                return json.loads(answer)
            except ValueError as exc:  # not a standby's answer: retry, do not crash the link
                raise ShipError(f"{path} answered 200 without JSON: {answer[:200]!r}") from exc
        error = _error_of(answer)
        if status == 409 and error.get("error") == "stale_epoch":
            epoch = error.get("epoch")
            detail = str(error.get("detail"))
            raise StaleEpochSeenError(epoch if isinstance(epoch, int) else -1, detail)
        if status == 409 and error.get("error") == "handshake_required":
            raise HandshakeNeededError(str(error.get("detail")))
        raise ShipError(f"{path} answered {status}: {error.get('detail', '')}")


def _error_of(answer: bytes) -> dict[str, object]:
    try:
        body = json.loads(answer)
    except ValueError:
        return {"detail": answer[:200].decode(errors="replace")}
    return body if isinstance(body, dict) else {"detail": str(body)[:200]}


_JSON = {"Content-Type": "application/json"}
